{{- define "plain" }}plain-template dot={{ . }}{{ end }}
{{- define "withdot" }}dot=[{{ . }}]{{ end }}
{{- define "outer" }}outer({{ template "inner" .Values.nested.inner }}){{ end }}
{{- define "inner" -}}
inner {{ .leaf }}
{{- end }}
