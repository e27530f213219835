{{- define "worker.retries" -}}
{{ .Values.queue.retry.max }}
{{- end }}
