//go:build tools

// Pins the CLI's main package so `go mod tidy` records every dependency it needs in go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
