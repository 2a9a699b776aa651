package main

// The files under deploy/ are examples that people copy into production, so
// they are checked against the binary they run: every variable they set is
// one hookd documents (or one another image reads), every hookd command
// line parses with hookd's own CLI, every environment makes a valid
// configuration, the configuration file they mount loads, and every grace
// period outlasts a graceful stop. Nothing here talks to Docker or
// Kubernetes.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/config"
)

const (
	deployDir = "../../deploy"
	// configurationDoc holds the table of variables hookd reads.
	configurationDoc = "../../docs/configuration.md"
	// stopMargin is what app.Run allows itself beyond HOOKD_SHUTDOWN_TIMEOUT
	// to finish a graceful stop (hand deliveries back, close the store).
	stopMargin = 10 * time.Second
	// Grace periods when a file does not set one.
	composeDefaultGrace    = 10 * time.Second
	kubernetesDefaultGrace = 30 * time.Second
)

// imageVariables are the variables that images other than hookd's read,
// by image name (without registry and tag).
var imageVariables = map[string][]string{
	"postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
}

// deployedProcess is one container the deploy files run.
type deployedProcess struct {
	where string // file and service or container, for messages
	image string
	// args are hookd's arguments (after the /hookd entrypoint).
	args []string
	// env holds every variable set, including those that envFrom brings in.
	env map[string]string
	// configFile is the content of the file HOOKD_CONFIG names, as the
	// files mount it; nil when HOOKD_CONFIG is not set.
	configFile []byte
	// grace is the time between SIGTERM and SIGKILL when the container
	// stops, and preStop the pause before SIGTERM.
	grace, preStop time.Duration
}

func (p deployedProcess) isHookd() bool { return deployImageName(p.image) == "hookd" }

// deployImageName is "postgres" for "postgres:16" and "hookd" for
// "registry.example.com/hookd:0.1.0".
func deployImageName(image string) string {
	image = image[strings.LastIndex(image, "/")+1:]
	name, _, _ := strings.Cut(image, ":")
	return name
}

func TestDeploy(t *testing.T) {
	t.Parallel()
	procs := loadDeploy(t)
	documented := documentedVariables(t)

	// Each of hookd's roles appears in Compose and in Kubernetes.
	for _, want := range []string{"serve --role api", "worker", "migrate"} {
		for _, kind := range []string{"docker-compose.yml", "kubernetes/"} {
			if !slices.ContainsFunc(procs, func(p deployedProcess) bool {
				return p.isHookd() && strings.Contains(p.where, kind) && strings.Join(p.args, " ") == want
			}) {
				t.Errorf("no hookd %s in %s", want, kind)
			}
		}
	}

	for _, p := range procs {
		t.Run(p.where, func(t *testing.T) {
			t.Parallel()
			if !p.isHookd() {
				allowed := imageVariables[deployImageName(p.image)]
				for name := range p.env {
					if !slices.Contains(allowed, name) {
						t.Errorf("sets %s, which is not a variable the %s image is known to read (add it to imageVariables if it is)", name, p.image)
					}
				}
				return
			}
			for name := range p.env {
				if !documented[name] {
					t.Errorf("sets %s, which is not a variable in docs/configuration.md", name)
				}
			}

			cmd, role, err := parseHookdArgs(p.args)
			if err != nil {
				t.Fatalf("hookd %s: %v", strings.Join(p.args, " "), err)
			}

			// The environment as written (Compose interpolation such as
			// ${POSTGRES_PASSWORD} left in place) must make a valid
			// configuration for the role.
			cfg := config.Default()
			if err := cfg.FromEnv(func(k string) (string, bool) { v, ok := p.env[k]; return v, ok }); err != nil {
				t.Errorf("environment: %v", err)
			}
			if role != "" {
				cfg.Role = role
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("environment: %v", err)
			}

			if cfg.ConfigFile != "" {
				if p.configFile == nil {
					t.Errorf("HOOKD_CONFIG is %s, but nothing mounts a file there", cfg.ConfigFile)
				} else {
					deployLoadConfigFile(t, p.configFile)
				}
			}

			// Long-running processes must be allowed to stop gracefully.
			if name := cmd.Name(); name == "serve" || name == "worker" {
				need := p.preStop + cfg.ShutdownTimeout + stopMargin
				if p.grace < need {
					t.Errorf("grace period %s is below preStop %s + HOOKD_SHUTDOWN_TIMEOUT %s + %s", p.grace, p.preStop, cfg.ShutdownTimeout, stopMargin)
				}
			}
		})
	}
}

// TestDeployDockerfile checks that the image builds with the Go release
// go.mod names and runs a command hookd knows.
func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	dockerfile := deployReadFile(t, filepath.Join(deployDir, "Dockerfile"))
	gomod := deployReadFile(t, "../../go.mod")

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	builder := regexp.MustCompile(`(?m)^FROM golang:(\d+\.\d+)\b`).FindSubmatch(dockerfile)
	if goVersion == nil || builder == nil {
		t.Fatalf("go.mod's go line or the Dockerfile's FROM golang:X.Y line is missing")
	}
	if !bytes.Equal(goVersion[1], builder[1]) {
		t.Errorf("Dockerfile builds with golang:%s, go.mod needs go %s", builder[1], goVersion[1])
	}

	instruction := func(name string) []string {
		m := regexp.MustCompile(`(?m)^` + name + ` (.+)$`).FindSubmatch(dockerfile)
		if m == nil {
			t.Fatalf("Dockerfile has no %s", name)
		}
		var args []string
		if err := json.Unmarshal(m[1], &args); err != nil {
			t.Fatalf("Dockerfile %s %s: want the JSON form: %v", name, m[1], err)
		}
		return args
	}
	if got := instruction("ENTRYPOINT"); !slices.Equal(got, []string{"/hookd"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/hookd\"]", got)
	}
	cmdArgs := instruction("CMD")
	if _, _, err := parseHookdArgs(cmdArgs); err != nil {
		t.Errorf("CMD %q: %v", cmdArgs, err)
	}
	if want := fmt.Sprintf("EXPOSE %d", config.Default().Port); !regexp.MustCompile(`(?m)^` + want + `$`).Match(dockerfile) {
		t.Errorf("Dockerfile does not %s (PORT's default)", want)
	}
}

// parseHookdArgs checks args as hookd's CLI would take them: a runnable
// subcommand, flags it knows, arguments it accepts, and a known --role. It
// returns the command and the role the command line gives the process,
// empty when it leaves the role to HOOKD_ROLE.
func parseHookdArgs(args []string) (*cobra.Command, string, error) {
	root := newRoot()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return nil, "", err
	}
	if cmd == root || !cmd.Runnable() {
		return nil, "", fmt.Errorf("%q is not a hookd command that runs", args)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, "", err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return nil, "", err
	}
	switch cmd.Name() {
	case "worker":
		return cmd, config.RoleWorker, nil
	case "serve":
		if !cmd.Flags().Changed("role") {
			return cmd, "", nil
		}
		role := cmd.Flags().Lookup("role").Value.String()
		if role != config.RoleAll && role != config.RoleAPI {
			return nil, "", fmt.Errorf("--role %q is not all or api", role)
		}
		return cmd, role, nil
	}
	return cmd, "", nil
}

// documentedVariables returns the names in the first column of the
// variables table of docs/configuration.md.
func documentedVariables(t *testing.T) map[string]bool {
	t.Helper()
	row := regexp.MustCompile("^\\|\\s*`([A-Z][A-Z0-9_]*)`\\s*\\|")
	names := map[string]bool{}
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(deployReadFile(t, configurationDoc)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inTable = line == "## Variables and flags"
		}
		if m := row.FindStringSubmatch(line); inTable && m != nil {
			names[m[1]] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d variables in %s's table; has the table moved?", len(names), configurationDoc)
	}
	return names
}

// loadDeploy reads every YAML file under deploy/ and returns the containers
// they run. A hookd configuration file is loaded on the spot; a file that
// is neither that, Compose nor Kubernetes fails the test, so that nothing
// under deploy/ goes unchecked.
func loadDeploy(t *testing.T) []deployedProcess {
	t.Helper()
	var procs []deployedProcess
	var k8s []k8sDoc
	err := filepath.WalkDir(deployDir, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(file, ".yaml") && !strings.HasSuffix(file, ".yml")) {
			return err
		}
		rel, _ := filepath.Rel(deployDir, file)
		rel = "deploy/" + filepath.ToSlash(rel)
		data := deployReadFile(t, file)
		for i, chunk := range strings.Split(string(data), "\n---\n") {
			var top map[string]any
			if err := yaml.UnmarshalWithOptions([]byte(chunk), &top, yaml.AllowDuplicateMapKey()); err != nil {
				return fmt.Errorf("%s, document %d: %w", rel, i+1, err)
			}
			switch {
			case top == nil: // comments only
			case top["services"] != nil:
				ps, err := composeProcesses(rel, filepath.Dir(file), []byte(chunk))
				if err != nil {
					return fmt.Errorf("%s: %w", rel, err)
				}
				procs = append(procs, ps...)
			case top["kind"] != nil:
				var doc k8sDoc
				if err := yaml.Unmarshal([]byte(chunk), &doc); err != nil {
					return fmt.Errorf("%s, document %d: %w", rel, i+1, err)
				}
				doc.file = rel
				k8s = append(k8s, doc)
			case top["groups"] != nil:
				// Prometheus rules: checked against hookd's metrics by
				// internal/app's TestMetrics; here only their shape.
				if err := checkPrometheusRules([]byte(chunk)); err != nil {
					return fmt.Errorf("%s, document %d: %w", rel, i+1, err)
				}
			case top["sources"] != nil || top["destinations"] != nil:
				cfg := config.Default()
				if err := cfg.LoadFile(file); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s, document %d: neither Compose, Kubernetes, Prometheus rules nor a hookd configuration file", rel, i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := kubernetesProcesses(k8s)
	if err != nil {
		t.Fatal(err)
	}
	return append(procs, ps...)
}

// composeService is the part of a Compose service these checks read.
type composeService struct {
	Image           string `yaml:"image"`
	Command         any    `yaml:"command"`     // a list, or a string split on spaces
	Environment     any    `yaml:"environment"` // a map, or a list of KEY=value
	Volumes         []any  `yaml:"volumes"`     // "source:target[:mode]" or {source, target}
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// composeProcesses returns the services of a Compose file; dir is its
// folder, which relative volume sources start from.
func composeProcesses(rel, dir string, data []byte) ([]deployedProcess, error) {
	var file struct {
		Services map[string]composeService `yaml:"services"`
	}
	// A key beside a merge key (`<<: *hookd`) overrides the merged one, as
	// YAML merge keys are meant to; goccy/go-yaml calls that a duplicate
	// unless told otherwise, and then keeps the later (explicit) value.
	if err := yaml.UnmarshalWithOptions(data, &file, yaml.AllowDuplicateMapKey()); err != nil {
		return nil, err
	}
	var procs []deployedProcess
	for name, svc := range file.Services {
		p := deployedProcess{where: rel + ":" + name, image: svc.Image, env: map[string]string{}, grace: composeDefaultGrace}
		switch c := svc.Command.(type) {
		case nil:
			if p.isHookd() {
				p.args = []string{"serve"} // the image's CMD
			}
		case string:
			p.args = strings.Fields(c)
		case []any:
			for _, a := range c {
				p.args = append(p.args, fmt.Sprint(a))
			}
		default:
			return nil, fmt.Errorf("service %s: command is a %T", name, c)
		}
		switch e := svc.Environment.(type) {
		case nil:
		case map[string]any:
			for k, v := range e {
				p.env[k] = ""
				if v != nil {
					p.env[k] = fmt.Sprint(v)
				}
			}
		case []any:
			for _, kv := range e {
				k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
				p.env[k] = v
			}
		default:
			return nil, fmt.Errorf("service %s: environment is a %T", name, e)
		}
		if svc.StopGracePeriod != "" {
			d, err := time.ParseDuration(svc.StopGracePeriod)
			if err != nil {
				return nil, fmt.Errorf("service %s: stop_grace_period: %w", name, err)
			}
			p.grace = d
		}
		if target := p.env["HOOKD_CONFIG"]; target != "" {
			for _, v := range svc.Volumes {
				var source, mountedAt string
				switch v := v.(type) {
				case string:
					parts := strings.Split(v, ":")
					if len(parts) >= 2 {
						source, mountedAt = parts[0], parts[1]
					}
				case map[string]any:
					source, mountedAt = fmt.Sprint(v["source"]), fmt.Sprint(v["target"])
				}
				if mountedAt == target {
					content, err := os.ReadFile(filepath.Join(dir, source))
					if err != nil {
						return nil, fmt.Errorf("service %s: HOOKD_CONFIG's volume: %w", name, err)
					}
					p.configFile = content
				}
			}
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// k8sDoc is the part of a Kubernetes object these checks read.
type k8sDoc struct {
	file     string
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"` // base64 in a Secret
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Template    k8sPodTemplate `yaml:"template"`
		JobTemplate struct {
			Spec struct {
				Template k8sPodTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type k8sPodTemplate struct {
	Spec struct {
		TerminationGracePeriodSeconds *int64         `yaml:"terminationGracePeriodSeconds"`
		InitContainers                []k8sContainer `yaml:"initContainers"`
		Containers                    []k8sContainer `yaml:"containers"`
		Volumes                       []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
	Lifecycle struct {
		PreStop struct {
			Sleep struct {
				Seconds int64 `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
}

// kubernetesProcesses returns the containers of every workload in docs,
// with the variables their envFrom references bring in. A reference to a
// Secret or ConfigMap that is not among docs is an error.
func kubernetesProcesses(docs []k8sDoc) ([]deployedProcess, error) {
	// Secret and ConfigMap contents by "Kind/name", values decoded.
	objects := map[string]map[string]string{}
	for _, d := range docs {
		kv := map[string]string{}
		switch d.Kind {
		case "Secret":
			for k, v := range d.Data {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return nil, fmt.Errorf("%s: Secret %s: data.%s is not base64", d.file, d.Metadata.Name, k)
				}
				kv[k] = string(b)
			}
			for k, v := range d.StringData {
				kv[k] = v
			}
		case "ConfigMap":
			for k, v := range d.Data {
				kv[k] = v
			}
		default:
			continue
		}
		objects[d.Kind+"/"+d.Metadata.Name] = kv
	}
	lookup := func(kind, name string) (map[string]string, error) {
		kv, ok := objects[kind+"/"+name]
		if !ok {
			return nil, fmt.Errorf("%s %q is not in deploy/kubernetes", kind, name)
		}
		return kv, nil
	}

	var procs []deployedProcess
	for _, d := range docs {
		var tmpl k8sPodTemplate
		switch d.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			tmpl = d.Spec.Template
		case "CronJob":
			tmpl = d.Spec.JobTemplate.Spec.Template
		default:
			continue
		}
		grace := kubernetesDefaultGrace
		if s := tmpl.Spec.TerminationGracePeriodSeconds; s != nil {
			grace = time.Duration(*s) * time.Second
		}
		for _, c := range slices.Concat(tmpl.Spec.InitContainers, tmpl.Spec.Containers) {
			where := fmt.Sprintf("%s:%s/%s/%s", d.file, d.Kind, d.Metadata.Name, c.Name)
			p := deployedProcess{where: where, image: c.Image, args: c.Args, env: map[string]string{}, grace: grace,
				preStop: time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second}
			if p.isHookd() && len(c.Command) > 0 {
				return nil, fmt.Errorf("%s: command replaces the image's /hookd entrypoint; give hookd's arguments as args", where)
			}
			// envFrom first: env wins over it, as in Kubernetes.
			for _, ef := range c.EnvFrom {
				var kv map[string]string
				var err error
				switch {
				case ef.SecretRef != nil:
					kv, err = lookup("Secret", ef.SecretRef.Name)
				case ef.ConfigMapRef != nil:
					kv, err = lookup("ConfigMap", ef.ConfigMapRef.Name)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: envFrom: %w", where, err)
				}
				for k, v := range kv {
					p.env[k] = v
				}
			}
			for _, e := range c.Env {
				p.env[e.Name] = e.Value
			}
			if target := p.env["HOOKD_CONFIG"]; target != "" {
				for _, m := range c.VolumeMounts {
					key := path.Base(target)
					if m.SubPath != "" {
						if m.MountPath != target {
							continue
						}
						key = m.SubPath
					} else if m.MountPath != path.Dir(target) {
						continue
					}
					for _, v := range tmpl.Spec.Volumes {
						if v.Name != m.Name {
							continue
						}
						var kv map[string]string
						var err error
						switch {
						case v.ConfigMap != nil:
							kv, err = lookup("ConfigMap", v.ConfigMap.Name)
						case v.Secret != nil:
							kv, err = lookup("Secret", v.Secret.SecretName)
						default:
							err = errors.New("not a ConfigMap or Secret volume")
						}
						if err != nil {
							return nil, fmt.Errorf("%s: volume %s: %w", where, v.Name, err)
						}
						if content, ok := kv[key]; ok {
							p.configFile = []byte(content)
						}
					}
				}
			}
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// deployLoadConfigFile checks content with the loader hookd uses.
func deployLoadConfigFile(t *testing.T, content []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.LoadFile(file); err != nil {
		t.Errorf("the configuration file HOOKD_CONFIG names does not load:\n%v", err)
	}
}

func deployReadFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkPrometheusRules checks that a rules file has groups of rules that
// each alert (or record) on an expression, and that every alert says
// what is wrong.
func checkPrometheusRules(data []byte) error {
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Record      string            `yaml:"record"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return err
	}
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			return fmt.Errorf("rule group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			switch {
			case (r.Alert == "") == (r.Record == ""):
				return fmt.Errorf("group %q: a rule needs exactly one of alert and record", g.Name)
			case strings.TrimSpace(r.Expr) == "":
				return fmt.Errorf("group %q, rule %q: no expr", g.Name, r.Alert+r.Record)
			case r.Alert != "" && r.Annotations["summary"] == "":
				return fmt.Errorf("group %q, alert %q: no summary annotation", g.Name, r.Alert)
			}
		}
	}
	return nil
}
