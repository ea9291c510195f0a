package main

import (
	"testing"

	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/outcomes"
)

// notify names the asks' push types without importing outcomes.
func TestOutcomePushTypesAgree(t *testing.T) {
	if notify.PushWellbeingDue != outcomes.PushWellbeingDue || notify.PushPulseDue != outcomes.PushPulseDue {
		t.Fatalf("notify %q %q, outcomes %q %q", notify.PushWellbeingDue, notify.PushPulseDue, outcomes.PushWellbeingDue, outcomes.PushPulseDue)
	}
}
