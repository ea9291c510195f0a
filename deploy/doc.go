// Package deploy holds Clavis' container image (Dockerfile), Compose file and
// Kubernetes manifests (k8s/). It has no code: its tests check those files
// offline with the tools' own loaders (Kubernetes' API types in strict mode
// and kustomize's builder, compose-go, BuildKit's Dockerfile parser), so that
// a typo or a dropped safety setting fails CI, which has no cluster and no
// Docker engine.
package deploy
