#!/bin/sh
# Sourced by the image build's network steps. When the build context's build-ca.pem (bind-mounted at
# /tmp/build-ca.pem, never stored in a layer) holds certificates, trusts them in addition to the system bundle:
# writes a combined bundle in /tmp (removed by the step) and points pip, OpenSSL and apt at it.
CA_BUNDLE=""
if grep -q 'BEGIN CERTIFICATE' /tmp/build-ca.pem 2>/dev/null; then
  CA_BUNDLE=/tmp/flagun-ca-bundle.pem
  { if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cat /etc/ssl/certs/ca-certificates.crt; fi
    echo; cat /tmp/build-ca.pem; } >"$CA_BUNDLE"
  export PIP_CERT="$CA_BUNDLE" SSL_CERT_FILE="$CA_BUNDLE" REQUESTS_CA_BUNDLE="$CA_BUNDLE"
  echo "build: trusting the extra CA bundle given for the build"
fi
export CA_BUNDLE
