// Command go-reference renders a chart's templates with Go's text/template and Sprig, the way
// Helm's engine does, N times, and prints the time per render: the Go side of the side-by-side
// benchmarks of our engine.
//
//	go-reference [-n 1000] [-warmup 50] [-values FILE] [-template NAME] [-print [-raw]] CHART_DIR
//
// CHART_DIR holds Chart.yaml, values.yaml and templates/ (a Helm chart without
// dependencies), or is a bare directory of templates. -values replaces values.yaml. Every
// non-partial template is executed per render, as Helm does; -template executes one only.
// Prints the time of a new template set with the function map attached (Go's fixed cost per
// set), of that plus parsing every file, and of one render of all templates:
//
//	setup    <n> iterations  <ns> ns/op (new set + function map)
//	parse    <n> iterations  <ns> ns/op (setup + parse of every file)
//	execute  <n> iterations  <ns> ns/op  <bytes> B/op (output)
//
// and with -print the rendered output of one render (templates in name order, each preceded by
// "# Source: NAME"; -raw prints the bare outputs), to check that both engines render the same
// text. With -n 0 nothing is timed.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v2"
)

type tmplFile struct {
	name string
	text string
}

func main() {
	n := flag.Int("n", 1000, "timed iterations")
	warmup := flag.Int("warmup", 50, "untimed iterations first")
	valuesFile := flag.String("values", "", "values YAML (default: CHART_DIR/values.yaml)")
	only := flag.String("template", "", "execute only this template (full name)")
	printOut := flag.Bool("print", false, "print the output of one render")
	raw := flag.Bool("raw", false, "with -print: outputs only, no \"# Source\" lines")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go-reference [flags] CHART_DIR")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *valuesFile, *only, *n, *warmup, *printOut, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "go-reference:", err)
		os.Exit(1)
	}
}

func run(dir, valuesFile, only string, n, warmup int, printOut, raw bool) error {
	chartName, meta, files, err := loadChart(dir)
	if err != nil {
		return err
	}
	if valuesFile == "" {
		valuesFile = filepath.Join(dir, "values.yaml")
	}
	values := map[string]interface{}{}
	if data, err := os.ReadFile(valuesFile); err == nil {
		v, err := yamlToJSONValue(data)
		if err != nil {
			return fmt.Errorf("%s: %w", valuesFile, err)
		}
		if m, ok := v.(map[string]interface{}); ok {
			values = m
		} else if v != nil {
			return fmt.Errorf("%s: not a map", valuesFile)
		}
	} else if !errors.Is(err, os.ErrNotExist) || flag.Lookup("values").Value.String() != "" {
		return err
	}

	var targets []string
	for _, f := range files {
		if only != "" {
			if f.name == only {
				targets = append(targets, f.name)
			}
		} else if !strings.HasPrefix(path.Base(f.name), "_") {
			targets = append(targets, f.name)
		}
	}
	sort.Strings(targets)
	if len(targets) == 0 {
		return fmt.Errorf("no template to execute")
	}

	base := chartName + "/templates"
	if chartName == "" {
		base = ""
	}
	top := func(name string) map[string]interface{} {
		return map[string]interface{}{
			"Values": values,
			"Chart":  meta,
			"Release": map[string]interface{}{
				"Name": "fleet", "Namespace": "apps", "IsUpgrade": false, "IsInstall": true,
				"Revision": 1, "Service": "Helm",
			},
			"Capabilities": map[string]interface{}{
				"KubeVersion": map[string]interface{}{"Version": "v1.31.0", "Major": "1", "Minor": "31"},
				"APIVersions": []interface{}{"v1"},
			},
			"Files":     map[string]interface{}{},
			"Subcharts": map[string]interface{}{},
			"Template":  map[string]interface{}{"Name": name, "BasePath": base},
		}
	}

	// One render: execute every target, as Helm's engine does per chart.
	var out bytes.Buffer
	render := func(t *template.Template) (int, error) {
		total := 0
		for _, name := range targets {
			out.Reset()
			if err := t.ExecuteTemplate(&out, name, top(name)); err != nil {
				return 0, err
			}
			s := strings.ReplaceAll(out.String(), "<no value>", "")
			total += len(s)
		}
		return total, nil
	}

	t, err := parseAll(files)
	if err != nil {
		return err
	}
	if printOut {
		for _, name := range targets {
			var b bytes.Buffer
			if err := t.ExecuteTemplate(&b, name, top(name)); err != nil {
				return err
			}
			s := strings.ReplaceAll(b.String(), "<no value>", "")
			if raw {
				fmt.Print(s)
			} else {
				fmt.Printf("# Source: %s\n%s\n", name, s)
			}
		}
	}
	if n <= 0 {
		return nil
	}

	for i := 0; i < warmup; i++ {
		if _, err := parseAll(files); err != nil {
			return err
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		template.New("gotpl").Option("missingkey=zero").Funcs(funcs)
	}
	setupNs := time.Since(start).Nanoseconds() / int64(n)
	start = time.Now()
	for i := 0; i < n; i++ {
		if _, err := parseAll(files); err != nil {
			return err
		}
	}
	parseNs := time.Since(start).Nanoseconds() / int64(n)

	// The set every render executes: include and tpl must see it, not the last one parsed.
	current = t
	size := 0
	for i := 0; i < warmup; i++ {
		if size, err = render(t); err != nil {
			return err
		}
	}
	start = time.Now()
	for i := 0; i < n; i++ {
		if size, err = render(t); err != nil {
			return err
		}
	}
	execNs := time.Since(start).Nanoseconds() / int64(n)
	fmt.Printf("setup    %d iterations  %d ns/op (new set + function map)\n", n, setupNs)
	fmt.Printf("parse    %d iterations  %d ns/op (setup + parse of every file)\n", n, parseNs)
	fmt.Printf("execute  %d iterations  %d ns/op  %d B/op (output)\n", n, execNs, size)
	return nil
}

// loadChart reads Chart.yaml (if any) and every file under templates/ (or the directory
// itself when it is not a chart), named as Helm names them.
func loadChart(dir string) (string, map[string]interface{}, []tmplFile, error) {
	chartName := ""
	meta := map[string]interface{}{}
	tdir := dir
	if data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml")); err == nil {
		v, err := yamlToJSONValue(data)
		if err != nil {
			return "", nil, nil, fmt.Errorf("Chart.yaml: %w", err)
		}
		m, _ := v.(map[string]interface{})
		for k, field := range map[string]string{
			"name": "Name", "version": "Version", "appVersion": "AppVersion",
			"description": "Description", "type": "Type", "apiVersion": "APIVersion",
			"kubeVersion": "KubeVersion", "home": "Home", "icon": "Icon",
		} {
			if s, ok := m[k].(string); ok {
				meta[field] = s
			} else {
				meta[field] = ""
			}
		}
		chartName, _ = meta["Name"].(string)
		tdir = filepath.Join(dir, "templates")
	}
	var files []tmplFile
	err := filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tdir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if chartName != "" {
			name = chartName + "/templates/" + name
		}
		files = append(files, tmplFile{name: name, text: string(data)})
		return nil
	})
	if err != nil {
		return "", nil, nil, err
	}
	// Helm's parse order: deeper paths first, then reverse name order.
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i].name, files[j].name
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca != cb {
			return ca > cb
		}
		return a > b
	})
	return chartName, meta, files, nil
}

// The function map is built once (Helm builds it per render; our engine shares one), so
// "parse" measures parsing; include and tpl reach the set being executed through current.
var (
	current *template.Template
	funcs   = funcMap()
)

// parseAll builds the template set as Helm's engine does: one set, missingkey=zero, Sprig's
// functions without env/expandenv, and Helm's include/tpl/required/fail/toYaml/... functions.
func parseAll(files []tmplFile) (*template.Template, error) {
	t := template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcs)
	current = t
	for _, f := range files {
		if _, err := t.New(f.name).Parse(f.text); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	included := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if included[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		included[name]++
		defer func() { included[name]-- }()
		var b strings.Builder
		err := current.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}
	f["tpl"] = func(text string, vals map[string]interface{}) (string, error) {
		t := current
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c.Option("missingkey=zero")
		n, err := c.New(t.Name()).Parse(text)
		current = c
		defer func() { current = t }()
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var b strings.Builder
		if err := n.Execute(&b, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(b.String(), "<no value>", ""), nil
	}
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		} else if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warn)
		}
		return val, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["toYaml"] = func(v interface{}) string {
		s, err := toYAML(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(s, "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		v, err := yamlToJSONValue([]byte(s))
		if err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		m, _ := v.(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// yamlToJSONValue reads YAML as sigs.k8s.io/yaml does for Helm: go-yaml v2, then through JSON,
// so map keys are strings and numbers float64.
func yamlToJSONValue(data []byte) (interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, err
	}
	var v interface{}
	if err := json.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func jsonable(v interface{}) interface{} {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case []interface{}:
		for i := range x {
			x[i] = jsonable(x[i])
		}
		return x
	default:
		return v
	}
}

// toYAML is sigs.k8s.io/yaml.Marshal: JSON first, then that JSON re-read and printed as YAML.
func toYAML(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return "", err
	}
	y, err := yaml.Marshal(obj)
	return string(y), err
}
