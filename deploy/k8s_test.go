package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	k8sDir      = "k8s"
	baseDir     = "k8s/base"
	overlayDir  = "k8s/overlays/example"
	clavisName  = "clavis"
	httpPortNum = 8080
)

// codecs decode only the kinds Clavis ships, in strict mode: an unknown or
// misspelt field, a duplicate key or a wrong apiVersion is an error, as the
// API server's strict field validation would make it.
var codecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict)
}()

func decodeStrict(doc []byte) (runtime.Object, error) {
	obj, _, err := codecs.UniversalDeserializer().Decode(doc, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// k8sRules is what the manifests are checked against.
type k8sRules struct {
	variables  map[string]bool // read by main.go
	documented map[string]bool // in docs/configuration.md's table
}

// validateK8s checks everything under root (a copy of deploy/k8s) in fsys:
// each kustomization and manifest on its own, then the base and the example
// overlay as kustomize builds them (what `kubectl apply -k` would send).
func validateK8s(fsys filesys.FileSystem, root string, rules k8sRules) error {
	var errs []error
	err := fsys.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		switch {
		case info.Name() == "kustomization.yaml":
			errs = append(errs, checkKustomization(fsys, p))
		case strings.HasSuffix(p, ".yaml"):
			errs = append(errs, checkManifestFile(fsys, p))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, dir := range []string{"base", "overlays/example"} {
		objs, err := kustomizeBuild(fsys, path.Join(root, dir))
		if err != nil {
			errs = append(errs, fmt.Errorf("kustomize build %s: %w", dir, err))
			continue
		}
		if err := checkBundle(objs, rules, dir != "base"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// checkManifestFile strictly decodes every document of one manifest file.
func checkManifestFile(fsys filesys.FileSystem, p string) error {
	data, err := fsys.ReadFile(p)
	if err != nil {
		return err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	var errs []error
	for i, doc := range docs {
		if _, err := decodeStrict(doc); err != nil {
			errs = append(errs, fmt.Errorf("%s (document %d): %w", p, i+1, err))
		}
	}
	if len(docs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no object", p))
	}
	return errors.Join(errs...)
}

func splitYAML(data []byte) ([][]byte, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// checkKustomization decodes a kustomization strictly into kustomize's own
// type and checks that it names files that exist and that no manifest in its
// folder is left out.
func checkKustomization(fsys filesys.FileSystem, p string) error {
	data, err := fsys.ReadFile(p)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	var errs []error
	if k.APIVersion != types.KustomizationVersion || k.Kind != types.KustomizationKind {
		errs = append(errs, fmt.Errorf("%s: apiVersion/kind %s/%s, want %s/%s", p, k.APIVersion, k.Kind, types.KustomizationVersion, types.KustomizationKind))
	}
	dir := path.Dir(p)
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[path.Clean(r)] = true
		if !fsys.Exists(path.Join(dir, r)) {
			errs = append(errs, fmt.Errorf("%s: resource %s does not exist", p, r))
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range append(slices.Clone(g.EnvSources), g.FileSources...) {
			if _, file, ok := strings.Cut(f, "="); ok {
				f = file
			}
			if !fsys.Exists(path.Join(dir, f)) {
				errs = append(errs, fmt.Errorf("%s: configMapGenerator %s: %s does not exist", p, g.Name, f))
			}
		}
	}
	if len(k.SecretGenerator) > 0 {
		errs = append(errs, fmt.Errorf("%s: secretGenerator would put secret values in the repository; create secrets apart (docs/deployment.md)", p))
	}
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, name := range entries {
		if strings.HasSuffix(name, ".yaml") && name != "kustomization.yaml" && !listed[name] {
			errs = append(errs, fmt.Errorf("%s: %s is in the folder but not in resources", p, name))
		}
	}
	return errors.Join(errs...)
}

// kustomizeBuild runs kustomize's builder (the code behind kubectl's -k) and
// strictly decodes every object it produces.
func kustomizeBuild(fsys filesys.FileSystem, dir string) ([]runtime.Object, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, err
	}
	var objs []runtime.Object
	var errs []error
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err))
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

// bundle is one built set of objects, sorted by kind.
type bundle struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	policies    []*networkingv1.NetworkPolicy
	namespaces  []*corev1.Namespace
	configMaps  map[string]*corev1.ConfigMap
	nsUsed      map[string]bool // namespaces of the namespaced objects
}

// sortObjects files each object by kind, checking names and labels as the
// API server would and refusing Secrets and kinds Clavis does not ship.
func sortObjects(objs []runtime.Object, fail func(string, ...any)) bundle {
	b := bundle{configMaps: map[string]*corev1.ConfigMap{}, nsUsed: map[string]bool{}}
	for _, obj := range objs {
		m, err := meta.Accessor(obj)
		if err != nil {
			fail("%T: %v", obj, err)
			continue
		}
		kind := fmt.Sprintf("%T", obj)
		for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
			fail("%s name %q: %s", kind, m.GetName(), msg)
		}
		for k, v := range m.GetLabels() {
			for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				fail("%s %s label %s=%s: %s", kind, m.GetName(), k, v, msg)
			}
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			b.deployments = append(b.deployments, o)
		case *corev1.Service:
			b.services = append(b.services, o)
		case *policyv1.PodDisruptionBudget:
			b.pdbs = append(b.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.hpas = append(b.hpas, o)
		case *networkingv1.NetworkPolicy:
			b.policies = append(b.policies, o)
		case *corev1.ConfigMap:
			b.configMaps[o.Name] = o
		case *corev1.Namespace:
			b.namespaces = append(b.namespaces, o)
			continue
		case *corev1.Secret:
			fail("Secret %s is committed: secrets are created apart, never kept in the repository", o.Name)
		default:
			fail("unexpected object %s %s", kind, m.GetName())
		}
		b.nsUsed[m.GetNamespace()] = true
	}
	return b
}

// checkBundle checks the invariants of one built set of objects. overlay
// adds what an installation must have and the base leaves open (namespace,
// a pinned image).
func checkBundle(objs []runtime.Object, rules k8sRules, overlay bool) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	report := func() error {
		if len(errs) == 0 {
			return nil
		}
		return errors.New(strings.Join(errs, "\n"))
	}
	one := func(kind string, n int) bool {
		if n != 1 {
			fail("want exactly one %s, have %d", kind, n)
		}
		return n == 1
	}

	b := sortObjects(objs, fail)
	if !one("Deployment", len(b.deployments)) {
		return report()
	}
	d := b.deployments[0]
	checkNamespaces(b, d.Namespace, overlay, fail)
	settings := checkSettings(b.configMaps, rules, fail)
	port := httpPortNum
	if v, ok := settings["PORT"]; ok {
		port, _ = strconv.Atoi(v)
	}
	app := checkDeployment(d, settings, port, rules, b.configMaps, overlay, fail)
	podLabels := labels.Set(d.Spec.Template.Labels)
	if one("Service", len(b.services)) {
		checkService(b.services[0], podLabels, app, port, fail)
	}
	if one("PodDisruptionBudget", len(b.pdbs)) {
		checkPDB(b.pdbs[0], podLabels, d, fail)
	}
	if one("HorizontalPodAutoscaler", len(b.hpas)) {
		checkHPA(b.hpas[0], d, app, fail)
	}
	if one("NetworkPolicy", len(b.policies)) {
		checkNetworkPolicy(b.policies[0], podLabels, port, fail)
	}
	return report()
}

func k8sTestRules(t *testing.T) k8sRules {
	return k8sRules{variables: clavisVariables(t), documented: documentedVariables(t)}
}

// TestKubernetesManifests validates deploy/k8s as it is on disk.
func TestKubernetesManifests(t *testing.T) {
	root, err := filepath.Abs(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateK8s(filesys.MakeFsOnDisk(), root, k8sTestRules(t)); err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesOverlayIsTheOnePlaceToChange builds the example overlay and
// checks that its one file decides namespace, image and replica count.
func TestKubernetesOverlayIsTheOnePlaceToChange(t *testing.T) {
	fsys := diskCopy(t, nil)
	overlay := "/k8s/overlays/example/kustomization.yaml"
	data, err := fsys.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	// Change only the overlay file, as an operator would.
	text := string(data)
	text = mutate(t, text, "namespace: "+k.Namespace, "namespace: care-east")
	text = mutate(t, text, `newTag: "`+k.Images[0].NewTag+`"`, `newTag: "9.9.9"`)
	text = mutate(t, text, "count: "+strconv.Itoa(int(k.Replicas[0].Count)), "count: 4")
	if err := fsys.WriteFile(overlay, []byte(text)); err != nil {
		t.Fatal(err)
	}
	objs, err := kustomizeBuild(fsys, "/k8s/overlays/example")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBundle(objs, k8sTestRules(t), true); err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		m, _ := meta.Accessor(obj)
		switch o := obj.(type) {
		case *corev1.Namespace:
			if o.Name != "care-east" {
				t.Errorf("Namespace %s did not follow the overlay", o.Name)
			}
		case *appsv1.Deployment:
			if *o.Spec.Replicas != 4 || o.Spec.Template.Spec.Containers[0].Image != "ghcr.io/clavis-app/clavis:9.9.9" {
				t.Errorf("Deployment: replicas %d, image %s", *o.Spec.Replicas, o.Spec.Template.Spec.Containers[0].Image)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if *o.Spec.MinReplicas != 4 {
				t.Errorf("HPA minReplicas %d did not follow the replica count", *o.Spec.MinReplicas)
			}
		}
		if _, isNS := obj.(*corev1.Namespace); !isNS && m.GetNamespace() != "care-east" {
			t.Errorf("%T %s is in namespace %q", obj, m.GetName(), m.GetNamespace())
		}
	}
}

// diskCopy copies deploy/k8s into an in-memory file system at /k8s, applying
// edit (file relative to k8s/ → function of its text) on the way.
func diskCopy(t *testing.T, edit map[string]func(string) string) filesys.FileSystem {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	err := filepath.WalkDir(k8sDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(k8sDir, p)
		if f, ok := edit[filepath.ToSlash(rel)]; ok {
			data = []byte(f(string(data)))
			delete(edit, filepath.ToSlash(rel))
		}
		return fsys.WriteFile("/k8s/"+filepath.ToSlash(rel), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range edit {
		t.Fatalf("no file k8s/%s to edit", rel)
	}
	return fsys
}

// TestKubernetesValidatorCatchesMistakes feeds broken copies of deploy/k8s to
// the same validator: each must fail, naming the mistake.
func TestKubernetesValidatorCatchesMistakes(t *testing.T) {
	rules := k8sTestRules(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelt probe field", "base/deployment.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"misspelt security field", "base/deployment.yaml", "runAsNonRoot: true\n        runAsUser", "runAsNonRot: true\n        runAsUser", `unknown field "spec.template.spec.securityContext.runAsNonRot"`},
		{"field in wrong case", "base/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"duplicate key", "base/deployment.yaml", "  revisionHistoryLimit: 5", "  revisionHistoryLimit: 5\n  revisionHistoryLimit: 6", "revisionHistoryLimit"},
		{"wrong apiVersion", "base/hpa.yaml", "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v2beta9", "autoscaling/v2beta9"},
		{"readiness on the wrong path", "base/deployment.yaml", "path: /readyz", "path: /ready", "readinessProbe path"},
		{"writable root", "base/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem must be true"},
		{"privilege escalation", "base/deployment.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation must be false"},
		{"capabilities kept", "base/deployment.yaml", "- ALL", "- NET_RAW", "drop ALL"},
		{"no seccomp", "base/deployment.yaml", "type: RuntimeDefault\n          volumeMounts", "type: Unconfined\n          volumeMounts", "seccompProfile must be RuntimeDefault"},
		{"one replica", "overlays/example/kustomization.yaml", "count: 3", "count: 1", "want at least 2"},
		{"literal database URI", "base/deployment.yaml", "              valueFrom:\n                secretKeyRef:\n                  name: clavis-mongodb\n                  key: uri", "              value: mongodb://db:27017/clavis", "MONGODB_URI must come from a Secret"},
		{"unknown setting", "base/clavis.env", "LOG_LEVEL=info", "LOG_LEVEL=info\nCLAVIS_OFER_WAVE=5", "CLAVIS_OFER_WAVE is not a variable Clavis reads"},
		{"bad setting value", "base/clavis.env", "CLAVIS_CHECKIN_GRACE=10m", "CLAVIS_CHECKIN_GRACE=ten minutes", "CLAVIS_CHECKIN_GRACE"},
		{"missing resource", "base/kustomization.yaml", "- pdb.yaml", "- pbd.yaml", "pbd.yaml"},
		{"misspelt kustomization field", "base/kustomization.yaml", "resources:", "resource:", "resource"},
		{"committed secret", "base/service.yaml", "apiVersion: v1\nkind: Service", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: clavis-jwt\nstringData:\n  private.pem: x\n---\napiVersion: v1\nkind: Service", "Secret clavis-jwt is committed"},
		{"drain blocked", "base/pdb.yaml", "maxUnavailable: 1", "maxUnavailable: 0", "a drain must be able to take one pod"},
		{"ingress from anywhere", "base/networkpolicy.yaml", "    - from:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: ingress-nginx\n          podSelector:\n            matchLabels:\n              app.kubernetes.io/name: ingress-nginx\n      ports:", "    - ports:", "admits every source"},
		{"no DNS", "base/networkpolicy.yaml", "port: 53\n        - protocol: TCP\n          port: 53", "port: 5353\n        - protocol: TCP\n          port: 5353", "53/UDP"},
		{"secret readable by all", "base/deployment.yaml", "defaultMode: 0440", "defaultMode: 0444", "readable by others"},
		{"short grace period", "base/deployment.yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 10", "terminationGracePeriodSeconds"},
		{"unpinned image", "overlays/example/kustomization.yaml", `newTag: "1.0.0"`, `newTag: latest`, "not pinned"},
		{"orphan manifest", "base/kustomization.yaml", "  - networkpolicy.yaml\n", "", "networkpolicy.yaml is in the folder but not in resources"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := diskCopy(t, map[string]func(string) string{
				tc.file: func(s string) string { return mutate(t, s, tc.old, tc.new) },
			})
			err := validateK8s(fsys, "/k8s", rules)
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
