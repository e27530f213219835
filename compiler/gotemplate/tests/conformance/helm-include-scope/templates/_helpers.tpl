{{- define "recurse" -}}
{{ . }}{{ if gt . 0 }},{{ include "recurse" (sub . 1) }}{{ end }}
{{- end }}