#!/bin/sh
# Generate Pebble's test CA and the certificate of its HTTPS listeners, in the
# layout of the pebble repository's test/certs/:
#   $1/pebble.minica.pem, $1/pebble.minica.key.pem   (CA, like minica's)
#   $1/localhost/cert.pem, $1/localhost/key.pem      (SANs: localhost, pebble, 127.0.0.1)
# Test-only material: the CA key ships in the image, never trust it elsewhere.
set -eu

certs=${1:-/test/certs}
mkdir -p "$certs/localhost"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no

[dn]
CN = minica root ca registry-bed

[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:pebble, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# CA: 100 years, like minica's root
openssl req -x509 -config "$work/openssl.cnf" -extensions v3_ca \
    -newkey rsa:2048 -nodes -sha256 -days 36500 \
    -keyout "$certs/pebble.minica.key.pem" -out "$certs/pebble.minica.pem"

# listener certificate: 10 years
openssl req -new -config "$work/openssl.cnf" -subj "/CN=localhost" \
    -newkey rsa:2048 -nodes -sha256 \
    -keyout "$certs/localhost/key.pem" -out "$work/leaf.csr"
openssl x509 -req -in "$work/leaf.csr" -sha256 -days 3650 \
    -CA "$certs/pebble.minica.pem" -CAkey "$certs/pebble.minica.key.pem" \
    -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$work/openssl.cnf" -extensions v3_leaf \
    -out "$certs/localhost/cert.pem"

openssl verify -CAfile "$certs/pebble.minica.pem" "$certs/localhost/cert.pem"
chmod 0644 "$certs/pebble.minica.pem" "$certs/pebble.minica.key.pem" \
    "$certs/localhost/cert.pem" "$certs/localhost/key.pem"
