// pulumi-resource-tls: the Pulumi TLS provider (bridged hashicorp/terraform-provider-tls), built
// from Go modules because the upstream provider module (github.com/pulumi/pulumi-tls/provider/v5)
// is not served by the Go module proxy. Resource tokens match the @pulumi/tls npm SDK.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	tlsshim "github.com/hashicorp/terraform-provider-tls/shim"
	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"flagun-rosupod/toolchain/tls/pkg/version"
)

func providerInfo() tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pfbridge.ShimProvider(tlsshim.NewProvider()),
		Name:         "tls",
		Version:      version.Version,
		Description:  "A Pulumi package to create TLS resources in Pulumi programs.",
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-tls",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_private_key":         {Tok: tfbridge.MakeResource("tls", "index", "PrivateKey")},
			"tls_cert_request":        {Tok: tfbridge.MakeResource("tls", "index", "CertRequest")},
			"tls_locally_signed_cert": {Tok: tfbridge.MakeResource("tls", "index", "LocallySignedCert")},
			"tls_self_signed_cert": {
				Tok:                 tfbridge.MakeResource("tls", "index", "SelfSignedCert"),
				PreStateUpgradeHook: fixPreFrameworkSelfSignedCertState,
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_public_key":  {Tok: tfbridge.MakeDataSource("tls", "index", "getPublicKey")},
			"tls_certificate": {Tok: tfbridge.MakeDataSource("tls", "index", "getCertificate")},
		},
		EnableZeroDefaultSchemaVersion: true,
	}
}

// fixPreFrameworkSelfSignedCertState normalises state written by the pre-plugin-framework provider
// (schema version 0): unset optional booleans become false, empty subject strings are dropped and a
// missing allowedUses becomes an empty list, so old stacks do not show spurious diffs.
func fixPreFrameworkSelfSignedCertState(a tfbridge.PreStateUpgradeHookArgs) (int64, resource.PropertyMap, error) {
	st := a.PriorState
	if a.ResourceSchemaVersion != 0 || a.PriorStateSchemaVersion != 0 || st == nil {
		return a.PriorStateSchemaVersion, st, nil
	}
	for _, k := range []resource.PropertyKey{"setSubjectKeyId", "setAuthorityKeyId", "isCaCertificate"} {
		if _, has := st[k]; !has {
			st[k] = resource.NewBoolProperty(false)
		}
	}
	if subj, has := st["subject"]; has && subj.IsObject() {
		m := subj.ObjectValue()
		for k, v := range m {
			if v.IsString() && v.StringValue() == "" {
				delete(m, k)
			}
			if k == "streetAddresses" && v.IsArray() && len(v.ArrayValue()) == 0 {
				delete(m, k)
			}
		}
	}
	if _, has := st["allowedUses"]; !has {
		st["allowedUses"] = resource.NewArrayProperty(nil)
	}
	return 0, st, nil
}

func main() {
	if version.Version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-tls: built without -ldflags -X .../pkg/version.Version")
		os.Exit(1)
	}
	info := providerInfo()
	// The package schema is only needed for GetSchema (SDK generation, pulumi package get-schema);
	// generate it on first use instead of embedding a tfgen-produced schema.json.
	var once sync.Once
	var schemaBytes []byte
	var schemaErr error
	getSchema := func(context.Context, plugin.GetSchemaRequest) ([]byte, error) {
		once.Do(func() {
			sink := diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never})
			spec, err := tfgen.GenerateSchema(info, sink)
			if err != nil {
				schemaErr = err
				return
			}
			schemaBytes, schemaErr = json.Marshal(spec)
		})
		return schemaBytes, schemaErr
	}
	pfbridge.Main(context.Background(), "tls", info, pfbridge.ProviderMetadata{XGetSchema: getSchema})
}
