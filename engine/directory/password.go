package directory

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id parameters (RFC 9106). The defaults follow the
// OWASP recommendation m=19 MiB, t=2, p=1.
type HashParams struct {
	MemoryKiB uint32 `yaml:"memory_kib"`
	Time      uint32 `yaml:"time"`
	Threads   uint8  `yaml:"threads"`
}

// DefaultHashParams are the production parameters.
func DefaultHashParams() HashParams { return HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1} }

// ErrBadHash is returned for a hash that is not PHC-format argon2id.
var ErrBadHash = errors.New("directory: not an argon2id hash")

// HashPassword returns a PHC-format argon2id hash of password:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash (base64 without padding).
func HashPassword(password string, p HashParams) (string, error) {
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		p = DefaultHashParams()
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckHash reports whether hash is a PHC-format argon2id hash this
// package can verify, without computing anything (ErrBadHash otherwise).
func CheckHash(hash string) error {
	_, _, _, _, _, err := parseHash(hash)
	return err
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time. It computes one argon2id hash at the hash's own
// parameters: a service verifies through its Hasher, which bounds how many
// run at once.
func VerifyPassword(hash, password string) (bool, error) {
	m, t, p, salt, want, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func parseHash(hash string) (m, t uint32, p uint8, salt, want []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return 0, 0, 0, nil, nil, ErrBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return 0, 0, 0, nil, nil, ErrBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 4<<20 || t > 64 {
		return 0, 0, 0, nil, nil, ErrBadHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return 0, 0, 0, nil, nil, ErrBadHash
	}
	want, err = b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return 0, 0, 0, nil, nil, ErrBadHash
	}
	return m, t, p, salt, want, nil
}
