package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.DataDir != "./data" || c.MongoURI != "" || c.OfferWave != 5 || c.CheckinGrace != 10*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if len(c.ReminderOffsets) != 2 || c.ReminderOffsets[0] != 24*time.Hour || c.ReminderOffsets[1] != 2*time.Hour {
		t.Fatalf("reminder offsets %v", c.ReminderOffsets)
	}
}

func TestConfigNamesEveryBadValue(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"PORT":                    "80x",
		"CLAVIS_REMINDER_OFFSETS": "24h,soon",
		"CLAVIS_CHECKIN_GRACE":    "-5m",
		"CLAVIS_OFFER_WAVE":       "0",
		"LOG_LEVEL":               "loud",
		"CLAVIS_ADMIN_EMAIL":      "admin@example.org",
		"MONGODB_URI":             "postgres://user:secret@db/clavis",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, name := range []string{"PORT", "CLAVIS_REMINDER_OFFSETS", "CLAVIS_CHECKIN_GRACE", "CLAVIS_OFFER_WAVE", "LOG_LEVEL", "CLAVIS_ADMIN_PASSWORD", "MONGODB_URI"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("the error leaks a database password:\n%s", msg)
	}
}
