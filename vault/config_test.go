package vault

import "testing"

// TestKDFSettingsReachTheDeriver: Config's MaxDerivationMemory,
// MaxConcurrentDerivations and ArenaIdleTimeout are handed to the Vault's
// kdf.Deriver, which refuses a share above the budget or below the
// policy's own New parameters; were they dropped, New would accept both.
func TestKDFSettingsReachTheDeriver(t *testing.T) {
	pol := testPolicy(t)
	newMem := int64(pol.New.MemoryBytes())
	for name, cfg := range map[string]Config{
		"share above the budget":         {Policy: pol, MemoryBudget: 64 << 20, MaxDerivationMemory: 65 << 20},
		"share below new params' memory": {Policy: pol, MemoryBudget: 64 << 20, MaxDerivationMemory: newMem - 1},
	} {
		if newMem <= 1 && name == "share below new params' memory" {
			continue // PBKDF2 profile: no memory to undercut
		}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(Config{Policy: pol, MemoryBudget: 64 << 20, MaxDerivationMemory: 32 << 20, MaxConcurrentDerivations: 1, ArenaIdleTimeout: -1}); err != nil {
		t.Fatalf("valid settings refused: %v", err)
	}
}
