package announce

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// State is what the function remembers of its announcements. It lives in
// one ConfigMap, so that it survives scale to zero and is shared by every
// instance.
type State struct {
	// Digest is the digest of the last announced mesh; "" before the first
	// announcement.
	Digest string
	// Sequence counts the announcements made.
	Sequence int64
	// Index is the index of the last announced mesh; nil when it was not
	// kept (it outgrew the ConfigMap), so that the next delta is unknown.
	Index Index
	// Claim, when set, says that an instance is announcing.
	Claim *Claim
	// Damaged, when set, says why the ConfigMap's state could not be
	// read; the state is then that of no announcement known.
	Damaged error

	// cm is the ConfigMap the state was read from: Save changes only the
	// keys above in it, and keeps whatever else it holds (labels,
	// annotations, owner references, other keys).
	cm *corev1.ConfigMap
}

// Claim marks an announcement in progress, so that no other instance
// announces the same change. It expires, so that an instance that dies
// while announcing does not block the others for ever.
type Claim struct {
	Holder  string    `json:"holder"`
	Digest  string    `json:"digest"`
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

// Active reports whether the claim holds at now.
func (c *Claim) Active(now time.Time) bool { return c != nil && now.Before(c.Expires) }

// ErrConflict means another instance changed the state since it was read.
var ErrConflict = errors.New("the state changed since it was read")

// The keys of the state ConfigMap.
const (
	keyDigest   = "digest"
	keySequence = "sequence"
	keyClaim    = "claim"
	keyIndex    = "index.json.gz"
)

// Store reads and writes the State in a ConfigMap.
type Store struct {
	ConfigMaps corev1client.ConfigMapInterface
	Name       string
}

// Load reads the state. A ConfigMap without data is the state before the
// first announcement; one with a digest but no index kept no index.
//
// A state that does not read (a sequence, claim or index that does not
// parse, an index too large) is taken as no state: the next mesh is
// announced whole, without its delta, and recording it writes a good
// state again. Damaged says what was wrong, for the log. Only a failure
// to get the ConfigMap fails Load.
func (s *Store) Load(ctx context.Context) (*State, error) {
	cm, err := s.ConfigMaps.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("the state ConfigMap %s is missing: create it (rbac/function.yaml does): %w", s.Name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state ConfigMap %s: %w", s.Name, err)
	}
	st, err := parseState(cm)
	if err != nil {
		st = &State{cm: cm, Damaged: fmt.Errorf("state ConfigMap %s: %w", s.Name, err)}
	}
	return st, nil
}

// parseState reads the state the keys of cm hold.
func parseState(cm *corev1.ConfigMap) (*State, error) {
	st := &State{Digest: cm.Data[keyDigest], cm: cm}
	if st.Digest == "" {
		st.Index = Index{}
	}
	var err error
	if v := cm.Data[keySequence]; v != "" {
		if st.Sequence, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("bad %s %q", keySequence, v)
		}
	}
	if v := cm.Data[keyClaim]; v != "" {
		st.Claim = &Claim{}
		if err := json.Unmarshal([]byte(v), st.Claim); err != nil {
			return nil, fmt.Errorf("bad %s: %w", keyClaim, err)
		}
	}
	if b := cm.BinaryData[keyIndex]; len(b) > 0 {
		if st.Index, err = decodeIndex(b, maxIndexJSON); err != nil {
			return nil, fmt.Errorf("bad %s: %w", keyIndex, err)
		}
	}
	return st, nil
}

// Save writes st over the state it was read from, and fails with
// ErrConflict when the ConfigMap changed since. It changes only the keys
// the function owns: the rest of the ConfigMap (what `kubectl apply -k
// rbac/` set) stays as it was read.
func (s *Store) Save(ctx context.Context, st *State) error {
	if st.cm == nil {
		return errors.New("saving a state that was not loaded")
	}
	cm := st.cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[keyDigest] = st.Digest
	cm.Data[keySequence] = strconv.FormatInt(st.Sequence, 10)
	delete(cm.Data, keyClaim)
	if st.Claim != nil {
		b, err := json.Marshal(st.Claim)
		if err != nil {
			return fmt.Errorf("encoding claim: %w", err)
		}
		cm.Data[keyClaim] = string(b)
	}
	delete(cm.BinaryData, keyIndex)
	if st.Index != nil {
		b, err := encodeIndex(st.Index)
		if err != nil {
			return err
		}
		if cm.BinaryData == nil {
			cm.BinaryData = map[string][]byte{}
		}
		cm.BinaryData[keyIndex] = b
	}
	saved, err := s.ConfigMaps.Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("writing the state ConfigMap %s: %w", s.Name, err)
	}
	st.cm = saved
	return nil
}

// encodeIndex gzips the JSON of an index: a ConfigMap holds at most 1 MiB,
// and an index of 20 000 entities is about 1.5 MB of JSON, 0.5 MB gzipped.
func encodeIndex(idx Index) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(idx); err != nil {
		return nil, fmt.Errorf("encoding index: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing index: %w", err)
	}
	return buf.Bytes(), nil
}

// maxIndexJSON bounds the uncompressed index read from the state, so that
// a damaged or hostile ConfigMap cannot take the function's memory.
const maxIndexJSON = 64 << 20

// decodeIndex decodes a gzipped index of at most limit bytes of JSON.
func decodeIndex(b []byte, limit int) (Index, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("the index is over %d bytes uncompressed", limit)
	}
	idx := Index{}
	return idx, json.Unmarshal(data, &idx)
}
