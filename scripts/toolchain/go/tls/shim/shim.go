// Package shim exposes the otherwise internal terraform-plugin-framework provider of
// hashicorp/terraform-provider-tls so the Pulumi bridge can wrap it.
package shim

import (
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"

	tlsinternal "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns a fresh instance of the TLS terraform provider.
func NewProvider() fwprovider.Provider { return tlsinternal.New() }
