{{- define "bench-services.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .svc.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}
