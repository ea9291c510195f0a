package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "compose.yaml"

// loadCompose loads a compose file with compose-go, the library behind
// `docker compose`: schema validation (unknown keys fail), interpolation
// with an empty environment (so defaults apply), merge keys, path
// resolution and the consistency checks (depends_on, volumes, networks).
func loadCompose(content []byte) (*types.Project, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return nil, err
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, composeFile), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("clavis", true) })
}

// validateCompose loads the file and checks what the Compose setup promises:
// a MongoDB replica set that is initiated before Clavis starts, two Clavis
// servers built from deploy/Dockerfile on that one database with one
// signing key, and named volumes for the data.
func validateCompose(content []byte, rules k8sRules) error {
	p, err := loadCompose(content)
	if err != nil {
		return err
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			fail("no service %s", name)
		}
		return s
	}
	root, _ := filepath.Abs(repoRoot)

	// MongoDB: official image with a pinned major, started as replica set rs0,
	// with a health check and its data on named volumes.
	mongo := svc("mongo")
	if !regexp.MustCompile(`^mongo:[0-9]+(\.[0-9]+)*$`).MatchString(mongo.Image) {
		fail("mongo: image %q, want the official mongo image with a pinned major (mongo:8)", mongo.Image)
	}
	replSet := flagValue(mongo.Command, "--replSet")
	if replSet == "" {
		fail("mongo: command %v does not start a replica set (--replSet)", mongo.Command)
	}
	if hc := mongo.HealthCheck; hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
		fail("mongo: no health check")
	}
	checkNamedVolume(p, mongo, "/data/db", fail)

	// The replica set is initiated once (idempotently), after mongo is healthy.
	init := svc("mongo-init")
	script := strings.Join(init.Command, " ")
	if !strings.Contains(script, "rs.initiate(") || !strings.Contains(script, "_id: '"+replSet+"'") || !strings.Contains(script, "rs.status()") {
		fail("mongo-init: does not run rs.initiate for %q guarded by rs.status()", replSet)
	}
	if dep, ok := init.DependsOn["mongo"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		fail("mongo-init: must wait for mongo to be healthy")
	}
	if init.Restart != "no" {
		fail("mongo-init: restart %q; a one-shot step must not restart", init.Restart)
	}
	member := regexp.MustCompile(`host: '([^']+)'`).FindStringSubmatch(script)

	// The shared signing key.
	keygen := svc("jwt-key")
	keyScript := strings.Join(keygen.Command, " ")
	keyPath := regexp.MustCompile(`const path = '([^']+)'`).FindStringSubmatch(keyScript)
	if keyPath == nil || !strings.Contains(keyScript, "existsSync") {
		fail("jwt-key: does not write a key once to a fixed path")
	}

	// The Clavis servers.
	var uris, keyFiles []string
	ports := map[string]bool{}
	for _, name := range []string{"clavis-1", "clavis-2"} {
		c := svc(name)
		if c.Build == nil || c.Build.Context != root || c.Build.Dockerfile != "deploy/Dockerfile" {
			fail("%s: want build context %s with deploy/Dockerfile, have %+v", name, root, c.Build)
		} else if _, ok := c.Build.Args["VERSION"]; !ok {
			fail("%s: build passes no VERSION", name)
		}
		for _, dep := range []string{"mongo-init", "jwt-key"} {
			if d, ok := c.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
				fail("%s: must start after %s completed successfully", name, dep)
			}
		}
		for k := range c.Environment {
			if !rules.variables[k] {
				fail("%s: environment %s is not a variable Clavis reads", name, k)
			}
		}
		uri := deref(c.Environment["MONGODB_URI"])
		uris = append(uris, uri)
		if u, err := url.Parse(uri); err != nil || u.Scheme != "mongodb" {
			fail("%s: MONGODB_URI %q is not a mongodb:// URI", name, uri)
		} else {
			if u.Query().Get("replicaSet") != replSet {
				fail("%s: MONGODB_URI names replica set %q, mongo runs %q", name, u.Query().Get("replicaSet"), replSet)
			}
			if member == nil || u.Host != member[1] {
				fail("%s: MONGODB_URI host %s is not the replica set member %v", name, u.Host, member)
			}
		}
		keyFile := deref(c.Environment["CLAVIS_JWT_KEY_FILE"])
		keyFiles = append(keyFiles, keyFile)
		if keyPath != nil && keyFile != keyPath[1] {
			fail("%s: CLAVIS_JWT_KEY_FILE %q is not the key jwt-key writes (%s)", name, keyFile, keyPath[1])
		}
		if !mountedReadOnlyFrom(c, keygen, keyFile) {
			fail("%s: %s is not on a read-only mount of the volume jwt-key writes", name, keyFile)
		}
		if !c.ReadOnly || !slices.Contains(c.CapDrop, "ALL") || c.User == "" || strings.HasPrefix(c.User, "0") || c.User == "root" {
			fail("%s: want read_only, cap_drop ALL and a non-root user (have read_only=%v cap_drop=%v user=%q)", name, c.ReadOnly, c.CapDrop, c.User)
		}
		if c.HealthCheck != nil && !c.HealthCheck.Disable {
			fail("%s: the image has no shell or curl for a health check; probe /readyz from outside", name)
		}
		for _, port := range c.Ports {
			if port.Target != httpPortNum {
				fail("%s: publishes container port %d, Clavis listens on %d", name, port.Target, httpPortNum)
			}
			if ports[port.Published] {
				fail("%s: host port %s is already taken by the other server", name, port.Published)
			}
			ports[port.Published] = true
		}
	}
	if len(ports) != 2 {
		fail("want the two servers published on two host ports, have %v", sortedKeys(ports))
	}
	if len(uris) == 2 && (uris[0] != uris[1] || uris[0] == "") {
		fail("the two servers do not share one database: %q", uris)
	}
	if len(keyFiles) == 2 && keyFiles[0] != keyFiles[1] {
		fail("the two servers do not share one signing key: %q", keyFiles)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// flagValue finds "--flag value" or "--flag=value" in a command.
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func checkNamedVolume(p *types.Project, s types.ServiceConfig, target string, fail func(string, ...any)) {
	for _, v := range s.Volumes {
		if v.Target == target {
			if v.Type != types.VolumeTypeVolume {
				fail("%s: %s is a %s, want a named volume", s.Name, target, v.Type)
			} else if _, ok := p.Volumes[v.Source]; !ok {
				fail("%s: volume %s is not declared", s.Name, v.Source)
			}
			return
		}
	}
	fail("%s: no volume at %s; the data would be lost with the container", s.Name, target)
}

// mountedReadOnlyFrom reports whether file lies in a read-only mount of a
// named volume that writer also mounts.
func mountedReadOnlyFrom(c, writer types.ServiceConfig, file string) bool {
	for _, v := range c.Volumes {
		if v.Type != types.VolumeTypeVolume || !v.ReadOnly || !strings.HasPrefix(file, strings.TrimSuffix(v.Target, "/")+"/") {
			continue
		}
		for _, w := range writer.Volumes {
			if w.Source == v.Source && !w.ReadOnly {
				return true
			}
		}
	}
	return false
}

func TestCompose(t *testing.T) {
	content, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateCompose(content, k8sTestRules(t)); err != nil {
		t.Fatal(err)
	}
}

// TestComposeValidatorCatchesMistakes feeds broken copies of compose.yaml to
// the same validator.
func TestComposeValidatorCatchesMistakes(t *testing.T) {
	content, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := k8sTestRules(t)
	cases := []struct{ name, old, new, want string }{
		{"misspelt key", "    healthcheck:", "    healthchek:", "healthchek"},
		{"misspelt condition", "condition: service_healthy", "condition: service_healty", "condition value must be one of"},
		{"no replica set", `["--replSet", "rs0", "--bind_ip_all"]`, `["--bind_ip_all"]`, "--replSet"},
		{"wrong replica set in URI", "?replicaSet=rs0", "?replicaSet=rs1", `replica set "rs1"`},
		{"unpinned mongo", "  mongo:\n    image: mongo:8", "  mongo:\n    image: mongo:latest", "pinned major"},
		{"no init guard", "rs.status();", "print('x');", "rs.status()"},
		{"clavis before init", "condition: service_completed_successfully\n    jwt-key", "condition: service_started\n    jwt-key", "mongo-init completed successfully"},
		{"writable root", "\n  read_only: true", "\n  read_only: false", "want read_only"},
		{"unknown variable", "    LOG_LEVEL: ${LOG_LEVEL:-info}", "    LOG_LEVEL: ${LOG_LEVEL:-info}\n    CLAVIS_WORKER: \"8\"", "CLAVIS_WORKER is not a variable"},
		{"same host port", `"8081:8080"`, `"8080:8080"`, "already taken"},
		{"undeclared volume", "\n  clavis-keys:\n", "\n", "clavis-keys"},
		{"mongo data not kept", "      - mongo-data:/data/db\n", "", "/data/db"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateCompose([]byte(mutate(t, string(content), tc.old, tc.new)), rules)
			if err == nil {
				t.Fatalf("the validator accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not mention %q:\n%v", tc.want, err)
			}
			t.Logf("rejected as expected:\n%v", err)
		})
	}
}
