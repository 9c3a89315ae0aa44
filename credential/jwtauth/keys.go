package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Algorithms lists the signing algorithms a credential (or a jwks setting)
// may pin. "none" is never one of them.
var Algorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384",
	"EdDSA",
}

// DefaultAlgorithm is the algorithm of a credential that names none.
const DefaultAlgorithm = "HS256"

// MinRSABits is the smallest RSA modulus accepted in a public key.
const MinRSABits = 2048

// family is the kind of key an algorithm verifies with.
type family uint8

const (
	famUnknown family = iota
	famHMAC
	famRSA // RS* and PS*
	famEC256
	famEC384
	famEd25519
)

func algFamily(alg string) family {
	switch alg {
	case "HS256", "HS384", "HS512":
		return famHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return famRSA
	case "ES256":
		return famEC256
	case "ES384":
		return famEC384
	case "EdDSA":
		return famEd25519
	}
	return famUnknown
}

// MinSecretLen returns the shortest HS secret accepted for alg, in bytes: the
// size of the hash output, as RFC 7518 section 3.2 asks (32, 48 and 64 bytes
// for HS256, HS384 and HS512). It returns 0 for other algorithms.
func MinSecretLen(alg string) int {
	switch alg {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 0
}

// MaxSecretLen bounds an HS secret, in bytes.
const MaxSecretLen = 1024

// maxPEMLen bounds a public_key setting.
const maxPEMLen = 16 << 10

// keyError is a client-facing reason a public key is refused. It never holds
// key material.
type keyError string

func (e keyError) Error() string { return string(e) }

// ParsePublicKey parses a PEM public key ("PUBLIC KEY", "RSA PUBLIC KEY" or a
// "CERTIFICATE") and checks that it verifies alg: an RSA key of at least
// MinRSABits for RS* and PS*, an EC P-256 key for ES256, P-384 for ES384, an
// Ed25519 key for EdDSA. Its error says precisely why a key is refused.
func ParsePublicKey(pemText, alg string) (any, error) {
	if len(pemText) > maxPEMLen {
		return nil, keyError("must be at most 16 KiB")
	}
	block, rest := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, keyError("is not PEM: want a -----BEGIN PUBLIC KEY----- block")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, keyError("must hold exactly one PEM block")
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, keyError("is a private key: send the public key only")
		}
		return nil, keyError(fmt.Sprintf("PEM block %q is not a public key", block.Type))
	}
	if err != nil {
		return nil, keyError("PEM block " + block.Type + " does not parse")
	}
	if err := checkKeyFor(pub, alg); err != nil {
		return nil, err
	}
	return pub, nil
}

// checkKeyFor reports why pub cannot verify alg, or nil.
func checkKeyFor(pub any, alg string) error {
	switch want := algFamily(alg); want {
	case famRSA:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return keyError(fmt.Sprintf("is %s, but %s needs an RSA key", describeKey(pub), alg))
		}
		if k.N.BitLen() < MinRSABits {
			return keyError(fmt.Sprintf("RSA key of %d bits is too short: want at least %d", k.N.BitLen(), MinRSABits))
		}
	case famEC256, famEC384:
		k, ok := pub.(*ecdsa.PublicKey)
		curve := elliptic.P256()
		if want == famEC384 {
			curve = elliptic.P384()
		}
		if !ok || k.Curve != curve {
			return keyError(fmt.Sprintf("is %s, but %s needs an EC %s key", describeKey(pub), alg, curve.Params().Name))
		}
	case famEd25519:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return keyError(fmt.Sprintf("is %s, but EdDSA needs an Ed25519 key", describeKey(pub)))
		}
	default:
		return keyError(alg + " does not use a public key")
	}
	return nil
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	default:
		return fmt.Sprintf("a key of type %T", pub)
	}
}

// encodePublicKey returns pub as a PKIX "PUBLIC KEY" PEM block: the one form
// stored, whatever form the admin sent.
func encodePublicKey(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("jwt-auth: encode public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

var errNoRing = errors.New("jwt-auth: no key ring configured to encrypt HS secrets")
