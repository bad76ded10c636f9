// pulumi-resource-random: the Pulumi random provider (bridged terraform-provider-random), built
// from Go modules because the upstream provider module (github.com/pulumi/pulumi-random/provider/v4)
// is not served by the Go module proxy. Resource tokens match the @pulumi/random npm SDK
// ("random_password" -> "random:index/randomPassword:RandomPassword").
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	bridgetokens "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	randomshim "github.com/terraform-providers/terraform-provider-random/shim"

	"flagun-rosupod/toolchain/random/pkg/version"
)

func providerInfo() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pfbridge.ShimProvider(randomshim.NewProvider()),
		Name:         "random",
		Version:      version.Version,
		Description:  "A Pulumi package to safely use randomness in Pulumi programs.",
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-random",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Resources: map[string]*tfbridge.ResourceInfo{
			// Old RandomString states may lack the schema version marker (pulumi-random#258);
			// treat them as version 1, whose upgrades to later versions are idempotent.
			"random_string": {PreStateUpgradeHook: func(a tfbridge.PreStateUpgradeHookArgs) (int64, resource.PropertyMap, error) {
				if a.PriorStateSchemaVersion == 0 {
					return 1, a.PriorState, nil
				}
				return a.PriorStateSchemaVersion, a.PriorState, nil
			}},
			// RandomBytes has no "id" attribute upstream; its Pulumi ID is the base64 value.
			"random_bytes": {ComputeID: bytesID},
		},
	}
	// Every resource keeps its "Random" prefix: random_password -> RandomPassword in module index.
	standard := bridgetokens.MakeStandard("random")
	info.MustComputeTokens(bridgetokens.SingleModule("random_", "index",
		func(module, name string) (string, error) { return standard(module, "Random"+name) }))
	return info
}

func bytesID(_ context.Context, st resource.PropertyMap) (resource.ID, error) {
	v, ok := st["base64"]
	if !ok {
		return "", fmt.Errorf("random_bytes: state has no base64 property")
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsString() {
		return "", fmt.Errorf("random_bytes: base64 property is not a string")
	}
	return resource.ID(v.StringValue()), nil
}

func main() {
	if version.Version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-random: built without -ldflags -X .../pkg/version.Version")
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
	pfbridge.Main(context.Background(), "random", info, pfbridge.ProviderMetadata{XGetSchema: getSchema})
}
