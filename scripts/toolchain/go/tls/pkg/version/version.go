// Package version holds the provider version, set at link time:
//
//	go build -ldflags "-X flagun-rosupod/toolchain/tls/pkg/version.Version=5.6.1"
//
// (upstream sets github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version the same way).
package version

// Version is the semver the Pulumi engine sees for this plugin (no leading "v").
var Version string
