// Package shim exposes the otherwise internal terraform-plugin-framework provider of
// terraform-provider-random so the Pulumi bridge can wrap it.
package shim

import (
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"

	randominternal "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns a fresh instance of the random terraform provider.
func NewProvider() fwprovider.Provider { return randominternal.New() }
