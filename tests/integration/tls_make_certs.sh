#!/usr/bin/env bash
# tls_make_certs.sh DIR: the certificates of the TLS tests, made with openssl
# into DIR (created): a CA (ca.pem), a server certificate for 127.0.0.1 and
# localhost (server.pem, server.key; subjectAltName with both), a client
# certificate from the same CA (client.pem, client.key), and a second,
# unrelated CA with a client certificate of its own (other-ca.pem,
# other-client.pem, other-client.key) for the refusals. EC P-256 keys, valid
# for 2 days. Idempotent per directory (a second run overwrites).
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
days=2
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # ca NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "$2" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() {  # leaf NAME CA SUBJECT EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -sha256 -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "/CN=Runnel test CA"
ca other-ca "/CN=Unrelated test CA"
leaf server ca "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature"
leaf client ca "/CN=runnel-test-client" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
leaf other-client other-ca "/CN=unrelated-client" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
