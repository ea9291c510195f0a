package deploy_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The checks of each kind of object in the built bundle (k8s_test.go
// builds it and runs them).

// checkNamespaces: one namespace for everything; an overlay must set it,
// and a Namespace it ships must be that one and enforce the restricted Pod
// Security Standard the pods meet.
func checkNamespaces(b bundle, ns string, overlay bool, fail func(string, ...any)) {
	if len(b.nsUsed) != 1 {
		fail("objects are spread over namespaces %v", sortedKeys(b.nsUsed))
	}
	if !overlay {
		return
	}
	if ns == "" {
		fail("the overlay sets no namespace")
	}
	for _, n := range b.namespaces {
		if n.Name != ns {
			fail("Namespace %s does not hold the objects (they are in %q)", n.Name, ns)
		}
		if n.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			fail("Namespace %s does not enforce the restricted Pod Security Standard", n.Name)
		}
	}
}

// checkSettings: every key is a variable Clavis reads and docs/configuration.md documents,
// no secret travels in a ConfigMap, and values parse. It returns the
// settings merged.
func checkSettings(configMaps map[string]*corev1.ConfigMap, rules k8sRules, fail func(string, ...any)) map[string]string {
	if len(configMaps) == 0 {
		fail("no ConfigMap with the settings")
	}
	settings := map[string]string{}
	for _, cm := range configMaps {
		if len(cm.BinaryData) > 0 {
			fail("ConfigMap %s has binaryData", cm.Name)
		}
		for k, v := range cm.Data {
			settings[k] = v
			switch {
			case !rules.variables[k]:
				fail("ConfigMap %s: %s is not a variable Clavis reads (main.go)", cm.Name, k)
			case !rules.documented[k]:
				fail("ConfigMap %s: %s is not in docs/configuration.md's table", cm.Name, k)
			case slices.Contains(secretVariables, k):
				fail("ConfigMap %s: %s is a secret; use a secretKeyRef", cm.Name, k)
			case k == "CLAVIS_FCM_ENDPOINT":
				fail("ConfigMap %s: CLAVIS_FCM_ENDPOINT sends pushes to an emulator without Google auth; not for a deployment", cm.Name)
			}
			if err := checkSettingValue(k, v); err != nil {
				fail("ConfigMap %s: %s=%q: %v", cm.Name, k, v, err)
			}
		}
	}
	return settings
}

// checkDeployment checks the pods and returns the Clavis container (nil if
// there is none).
func checkDeployment(d *appsv1.Deployment, settings map[string]string, port int, rules k8sRules, configMaps map[string]*corev1.ConfigMap, overlay bool, fail func(string, ...any)) *corev1.Container {
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		fail("Deployment %s: replicas %v, want at least 2", d.Name, ptrString(d.Spec.Replicas))
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		fail("Deployment %s: selector %v does not select its pods %v (%v)", d.Name, d.Spec.Selector, podLabels, err)
	}
	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		fail("Deployment %s: automountServiceAccountToken must be false (Clavis never calls the Kubernetes API)", d.Name)
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if v.Secret != nil && v.Secret.DefaultMode != nil && *v.Secret.DefaultMode&0o007 != 0 {
			fail("Deployment %s: secret volume %s is readable by others (mode %#o)", d.Name, v.Name, *v.Secret.DefaultMode)
		}
	}
	var app *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == clavisName {
			app = &pod.Containers[i]
		}
	}
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		checkContainerSecurity(d.Name, c, psc, fail)
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				fail("Deployment %s: container %s mounts %s, which is not a volume", d.Name, c.Name, vm.Name)
			}
		}
	}
	if app == nil {
		fail("Deployment %s: no container named %s", d.Name, clavisName)
		return nil
	}
	var httpPort *corev1.ContainerPort
	for i, p := range app.Ports {
		for _, msg := range validation.IsValidPortName(p.Name) {
			fail("container port name %q: %s", p.Name, msg)
		}
		if p.Name == "http" {
			httpPort = &app.Ports[i]
		}
	}
	if httpPort == nil || int(httpPort.ContainerPort) != port {
		fail("Deployment %s: want a container port named http on %d (PORT)", d.Name, port)
	}
	checkProbe(d.Name, "readinessProbe", app.ReadinessProbe, "/readyz", app, port, fail)
	checkProbe(d.Name, "livenessProbe", app.LivenessProbe, "/healthz", app, port, fail)
	if p := app.ReadinessProbe; p != nil && p.TimeoutSeconds < 2 {
		fail("Deployment %s: readinessProbe timeout %ds; /readyz may take 1 s to answer", d.Name, p.TimeoutSeconds)
	}
	if app.StartupProbe != nil {
		checkProbe(d.Name, "startupProbe", app.StartupProbe, "/healthz", app, port, fail)
	}
	checkResources(d.Name, app.Resources, fail)
	checkEnv(d, app, volumes, rules, configMaps, fail)
	checkImage(d.Name, app.Image, overlay, fail)

	// The kubelet kills the process after the grace period: it must cover
	// the preStop pause, CLAVIS_SHUTDOWN_TIMEOUT and closing the database.
	shutdown := 10 * time.Second
	if v, ok := settings["CLAVIS_SHUTDOWN_TIMEOUT"]; ok {
		shutdown, _ = time.ParseDuration(v)
	}
	var preStop time.Duration
	if l := app.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		preStop = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	grace := 30 * time.Second
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	if need := preStop + shutdown + 5*time.Second; grace < need {
		fail("Deployment %s: terminationGracePeriodSeconds %v < preStop %v + CLAVIS_SHUTDOWN_TIMEOUT %v + 5s", d.Name, grace, preStop, shutdown)
	}
	return app
}

// checkService: selects the pods and reaches the http port.
func checkService(s *corev1.Service, podLabels labels.Set, app *corev1.Container, port int, fail func(string, ...any)) {
	if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
		fail("Service %s: type %s; traffic enters through the ingress, so ClusterIP", s.Name, s.Spec.Type)
	}
	if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
		fail("Service %s: selector %v does not select the pods %v", s.Name, s.Spec.Selector, podLabels)
	}
	for _, p := range s.Spec.Ports {
		if app != nil && resolvePort(app, p.TargetPort) != port {
			fail("Service %s: port %s targets %s, not the http port %d", s.Name, p.Name, p.TargetPort.String(), port)
		}
	}
}

// checkPDB: selects the pods, lets a drain proceed, and never lets it take
// every pod.
func checkPDB(p *policyv1.PodDisruptionBudget, podLabels labels.Set, d *appsv1.Deployment, fail func(string, ...any)) {
	replicas := 0
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		fail("PodDisruptionBudget %s: selector does not select the pods", p.Name)
	}
	switch {
	case (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil):
		fail("PodDisruptionBudget %s: set exactly one of minAvailable and maxUnavailable", p.Name)
	case p.Spec.MaxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, replicas, false)
		if err != nil || n < 1 || n >= replicas {
			fail("PodDisruptionBudget %s: maxUnavailable %s of %d replicas: a drain must be able to take one pod, never all", p.Name, p.Spec.MaxUnavailable.String(), replicas)
		}
	default:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, replicas, true)
		if err != nil || n < 1 || n >= replicas {
			fail("PodDisruptionBudget %s: minAvailable %s of %d replicas: a drain must be able to take one pod, never all", p.Name, p.Spec.MinAvailable.String(), replicas)
		}
	}
}

// checkHPA: scales this Deployment from its replica count up, on a
// resource the container requests.
func checkHPA(h *autoscalingv2.HorizontalPodAutoscaler, d *appsv1.Deployment, app *corev1.Container, fail func(string, ...any)) {
	replicas := 0
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		fail("HorizontalPodAutoscaler %s: scales %s %s (%s), not Deployment %s", h.Name, ref.Kind, ref.Name, ref.APIVersion, d.Name)
	}
	if h.Spec.MinReplicas == nil || int(*h.Spec.MinReplicas) != replicas || *h.Spec.MinReplicas < 2 {
		fail("HorizontalPodAutoscaler %s: minReplicas %v, want the Deployment's replicas (%d, at least 2)", h.Name, ptrString(h.Spec.MinReplicas), replicas)
	}
	if h.Spec.MinReplicas != nil && h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		fail("HorizontalPodAutoscaler %s: maxReplicas %d < minReplicas", h.Name, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) == 0 {
		fail("HorizontalPodAutoscaler %s: no metric", h.Name)
	}
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && app != nil {
			if _, ok := app.Resources.Requests[m.Resource.Name]; !ok {
				fail("HorizontalPodAutoscaler %s: scales on %s utilisation but the container requests no %s", h.Name, m.Resource.Name, m.Resource.Name)
			}
		}
	}
}

func checkContainerSecurity(dep string, c corev1.Container, psc *corev1.PodSecurityContext, fail func(string, ...any)) {
	sc := c.SecurityContext
	if sc == nil {
		fail("Deployment %s: container %s has no securityContext", dep, c.Name)
		return
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		fail("Deployment %s: container %s: readOnlyRootFilesystem must be true", dep, c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		fail("Deployment %s: container %s: allowPrivilegeEscalation must be false", dep, c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		fail("Deployment %s: container %s is privileged", dep, c.Name)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		fail("Deployment %s: container %s must drop ALL capabilities", dep, c.Name)
	} else if len(sc.Capabilities.Add) > 0 {
		fail("Deployment %s: container %s adds capabilities %v", dep, c.Name, sc.Capabilities.Add)
	}
	nonRoot := psc.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		fail("Deployment %s: container %s: runAsNonRoot must be true", dep, c.Name)
	}
	for _, uid := range []*int64{psc.RunAsUser, sc.RunAsUser} {
		if uid != nil && *uid == 0 {
			fail("Deployment %s: container %s runs as uid 0", dep, c.Name)
		}
	}
	seccomp := psc.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("Deployment %s: container %s: seccompProfile must be RuntimeDefault", dep, c.Name)
	}
}

func checkProbe(dep, name string, p *corev1.Probe, wantPath string, c *corev1.Container, port int, fail func(string, ...any)) {
	switch {
	case p == nil:
		fail("Deployment %s: no %s", dep, name)
	case p.HTTPGet == nil:
		fail("Deployment %s: %s is not an HTTP GET", dep, name)
	case p.HTTPGet.Path != wantPath:
		fail("Deployment %s: %s path %q, want %s", dep, name, p.HTTPGet.Path, wantPath)
	case resolvePort(c, p.HTTPGet.Port) != port:
		fail("Deployment %s: %s port %s is not the http port %d", dep, name, p.HTTPGet.Port.String(), port)
	}
}

// resolvePort turns a named or numbered port into the container's port
// number, or -1.
func resolvePort(c *corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

func checkResources(dep string, r corev1.ResourceRequirements, fail func(string, ...any)) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[name]; !ok {
			fail("Deployment %s: no %s request", dep, name)
		}
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		fail("Deployment %s: no memory limit", dep)
	}
	for name, limit := range r.Limits {
		if req, ok := r.Requests[name]; ok && req.Cmp(limit) > 0 {
			fail("Deployment %s: %s request %s is above its limit %s", dep, name, req.String(), limit.String())
		}
	}
}

// checkEnv: every variable is one Clavis (or Go) reads, secrets come from
// Secrets, and file settings point into mounted Secret volumes.
func checkEnv(d *appsv1.Deployment, c *corev1.Container, volumes map[string]corev1.Volume, rules k8sRules, configMaps map[string]*corev1.ConfigMap, fail func(string, ...any)) {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if !rules.variables[e.Name] && !goRuntimeVariables[e.Name] {
			fail("Deployment %s: env %s is not a variable Clavis reads", d.Name, e.Name)
		}
		if slices.Contains(secretVariables, e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			fail("Deployment %s: env %s must come from a Secret (secretKeyRef), not a value in the manifest", d.Name, e.Name)
		}
		if e.Name == "CLAVIS_FCM_ENDPOINT" {
			fail("Deployment %s: CLAVIS_FCM_ENDPOINT is for an emulator, not a deployment", d.Name)
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && configMaps[ef.ConfigMapRef.Name] == nil {
			fail("Deployment %s: envFrom names ConfigMap %s, which is not in the bundle", d.Name, ef.ConfigMapRef.Name)
		}
	}
	// Several replicas on one embedded store would each have their own
	// database: a Deployment needs MongoDB.
	if _, ok := env["MONGODB_URI"]; !ok {
		fail("Deployment %s: MONGODB_URI is not set; several replicas need MongoDB, not the embedded store", d.Name)
	}
	// One signing key for every replica, or a token from one pod fails on another.
	for _, name := range []string{"CLAVIS_JWT_KEY_FILE", "GOOGLE_APPLICATION_CREDENTIALS"} {
		e, ok := env[name]
		if !ok {
			fail("Deployment %s: %s is not set", d.Name, name)
			continue
		}
		if !fileFromSecret(e.Value, c, volumes) {
			fail("Deployment %s: %s=%s is not a file of a mounted Secret volume", d.Name, name, e.Value)
		}
	}
}

// fileFromSecret reports whether file lies in a read-only mount of a Secret
// volume that projects exactly that file.
func fileFromSecret(file string, c *corev1.Container, volumes map[string]corev1.Volume) bool {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		v := volumes[vm.Name]
		if !ok || !vm.ReadOnly || v.Secret == nil {
			continue
		}
		if len(v.Secret.Items) == 0 {
			return true
		}
		for _, it := range v.Secret.Items {
			if it.Path == rel {
				return true
			}
		}
	}
	return false
}

func checkImage(dep, image string, overlay bool, fail func(string, ...any)) {
	if image == "" {
		fail("Deployment %s: no image", dep)
		return
	}
	if !overlay {
		return
	}
	name, tag, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	if tag == "" && !strings.Contains(image, "@sha256:") || tag == "latest" || name == "" {
		fail("Deployment %s: image %s is not pinned to a version tag or digest", dep, image)
	}
}

func checkSettingValue(k, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errors.New("empty; leave it out to use the default")
	case k == "PORT" || k == "CLAVIS_WORKERS" || k == "CLAVIS_OFFER_WAVE":
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return errors.New("want a positive whole number")
		}
	case k == "LOG_LEVEL":
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, v) {
			return errors.New("want debug, info, warn or error")
		}
	case k == "CLAVIS_REMINDER_OFFSETS" || strings.HasSuffix(k, "_TIMEOUT") || strings.HasSuffix(k, "_GRACE"):
		for _, part := range strings.Split(v, ",") {
			if d, err := time.ParseDuration(strings.TrimSpace(part)); err != nil || d <= 0 {
				return errors.New("want positive Go durations")
			}
		}
	}
	return nil
}

func checkNetworkPolicy(np *networkingv1.NetworkPolicy, podLabels labels.Set, port int, fail func(string, ...any)) {
	if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		fail("NetworkPolicy %s: podSelector does not select the Clavis pods", np.Name)
	}
	for _, want := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
		if !slices.Contains(np.Spec.PolicyTypes, want) {
			fail("NetworkPolicy %s: policyTypes lacks %s, so that direction is open", np.Name, want)
		}
	}
	if len(np.Spec.Ingress) == 0 {
		fail("NetworkPolicy %s: no ingress rule; nothing could reach the API", np.Name)
	}
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			fail("NetworkPolicy %s: ingress rule %d admits every source", np.Name, i)
		}
		for _, peer := range r.From {
			if peer.IPBlock == nil && isEmptySelector(peer.PodSelector) && isEmptySelector(peer.NamespaceSelector) {
				fail("NetworkPolicy %s: ingress rule %d has a peer that matches everything", np.Name, i)
			}
		}
		if len(r.Ports) == 0 {
			fail("NetworkPolicy %s: ingress rule %d opens every port", np.Name, i)
		}
		for _, p := range r.Ports {
			if p.Port == nil || !(p.Port.Type == intstr.Int && p.Port.IntValue() == port || p.Port.Type == intstr.String && p.Port.StrVal == "http") {
				fail("NetworkPolicy %s: ingress rule %d opens port %v; only the http port %d", np.Name, i, p.Port, port)
			}
		}
	}
	open := map[string]bool{}
	for i, r := range np.Spec.Egress {
		if len(r.Ports) == 0 {
			fail("NetworkPolicy %s: egress rule %d opens every port", np.Name, i)
		}
		if len(r.To) == 0 {
			fail("NetworkPolicy %s: egress rule %d allows every destination", np.Name, i)
		}
		for _, p := range r.Ports {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			if p.Port != nil {
				open[fmt.Sprintf("%d/%s", p.Port.IntValue(), proto)] = true
			}
		}
	}
	for _, need := range []string{"53/UDP", "53/TCP", "27017/TCP", "443/TCP"} {
		if !open[need] {
			fail("NetworkPolicy %s: egress to %s is not allowed (DNS, MongoDB, FCM)", np.Name, need)
		}
	}
}

func isEmptySelector(s *metav1.LabelSelector) bool {
	return s != nil && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
