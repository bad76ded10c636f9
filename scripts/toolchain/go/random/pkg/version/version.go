// Package version holds the provider version, set at link time:
//
//	go build -ldflags "-X flagun-rosupod/toolchain/random/pkg/version.Version=4.21.2"
//
// (upstream sets github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version the same way).
package version

// Version is the semver the Pulumi engine sees for this plugin (no leading "v").
var Version string
