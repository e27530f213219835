{{- define "smoke.name" -}}{{ .Values.name | upper }}{{- end }}
