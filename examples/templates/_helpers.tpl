{{- define "hello.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/managed-by: flotilla
{{- end -}}
