// Package images serves a container registry on loopback, with
// go-containerregistry, and wraps static binaries into images there: the
// images of make knative's cluster, which has no other registry to pull
// from.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A Registry is a container registry served over plain HTTP.
type Registry struct {
	// Host is the registry's host:port, the first part of its image
	// names.
	Host string
	srv  *http.Server
	done chan error
}

// Serve serves a registry on addr (a loopback host:port), its blobs kept
// in dir.
func Serve(addr, dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the registry's folder: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving the image registry: %w", err)
	}
	r := &Registry{
		Host: addr,
		srv: &http.Server{
			Handler:           registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)), registry.Logger(log.New(io.Discard, "", 0))),
			ReadHeaderTimeout: 10 * time.Second,
		},
		done: make(chan error, 1),
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the registry.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if serveErr := <-r.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Binary is a static binary to wrap into an image.
type Binary struct {
	// Path is the binary's path on the host.
	Path string
	// Repository is the image's name within the registry.
	Repository string
	// Args are the image's arguments, after the binary.
	Args []string
}

// Push wraps b into an image, the binary alone on no base, run as user
// 65532 (as ko's images are, which Knative's Deployments expect), and
// pushes it. It returns the image's name by digest.
func (r *Registry) Push(ctx context.Context, b Binary) (string, error) {
	img, err := wrap(b)
	if err != nil {
		return "", fmt.Errorf("wrapping %s into an image: %w", b.Path, err)
	}
	ref, err := name.NewTag(r.Host+"/"+b.Repository+":latest", name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(digest.String()).String(), nil
}

// wrap builds the image of a binary: one layer holding it at
// /ko-app/<name>, where ko puts its binaries.
func wrap(b Binary) (v1.Image, error) {
	target := path.Join("/ko-app", path.Base(b.Path))
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return binaryLayer(b.Path, target)
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Entrypoint = append([]string{target}, b.Args...)
	cfg.Config.User = "65532"
	cfg.Config.Env = []string{"PATH=/ko-app", "KO_DATA_PATH=/var/run/ko"}
	return mutate.ConfigFile(img, cfg)
}

// binaryLayer returns an uncompressed tar of the binary at target.
func binaryLayer(src, target string) (io.ReadCloser, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"ko-app", "tmp"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: target[1:], Mode: 0o755, Size: int64(len(data))}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}
