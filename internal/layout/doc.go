// Package layout has no code: its tests keep the package layout honest (the
// domain package stays stdlib-only, leaves and feature packages never reach
// for a concrete driver or each other, only commands import the composition
// root, and every package has a doc comment).
package layout
