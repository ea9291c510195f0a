package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
)

// Issue 12.8: the audit log keeps AuditRetention and no more; SweepAudit
// deletes the older entries, and RunSweeper runs it.
func TestAuditRetentionSweep(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	st := newSQLiteStore(t)
	s, err := New(ctx, Config{Store: st, Keys: mustKeys(t), Clock: clk, Hash: TestHashParams, AuditRetention: 30 * 24 * time.Hour})
	must(t, err)
	must(t, s.Audit(ctx, "c1", "p1", "outing.read"))
	clk.Advance(20 * 24 * time.Hour)
	must(t, s.Audit(ctx, "c1", "p1", "outing.read"))
	clk.Advance(11 * 24 * time.Hour)
	n, err := s.SweepAudit(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepAudit after 31 days = %d, %v; want the first entry deleted", n, err)
	}
	if left, _ := st.CountAudit(ctx, AuditQuery{Subject: "p1"}); left != 1 {
		t.Fatalf("%d entries left, want 1", left)
	}

	// The default keeps a year; RunSweeper sweeps at its first run.
	d, err := New(ctx, Config{Store: st, Keys: mustKeys(t), Clock: clk, Hash: TestHashParams})
	must(t, err)
	// The entry left is 11 days old; make it a day short of a year.
	clk.Advance(DefaultAuditRetention - 12*24*time.Hour)
	if n, _ := d.SweepAudit(ctx); n != 0 {
		t.Fatalf("the default retention deleted %d entries younger than a year", n)
	}
	clk.Advance(48 * time.Hour)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.RunSweeper(runCtx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if left, _ := st.CountAudit(ctx, AuditQuery{Subject: "p1"}); left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunSweeper did not sweep the audit log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}

func mustKeys(t *testing.T) *KeySet {
	k, err := GenerateKeySet()
	must(t, err)
	return k
}

// Issue 12.8: the export's audit sections hold the newest ExportAuditLimit
// entries, newest first, and count the rest.
func TestExportAuditSectionsAreBounded(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	st := newSQLiteStore(t)
	s := newTestService(t, st, clk, nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleParticipant, org.ID, StatusActive)
	var es []AuditEntry
	for i := range ExportAuditLimit + 5 {
		es = append(es, AuditEntry{ID: fmt.Sprintf("a%05d", i), Actor: "c1", Subject: u.ID, Action: "outing.read", At: t0.Add(time.Duration(i) * time.Second)})
	}
	es = append(es, AuditEntry{ID: "b1", Actor: u.ID, Subject: "p9", Action: "outing.read", At: t0})
	must(t, st.AppendAudit(ctx, es))
	out, err := s.exportAccount(ctx, u.ID)
	must(t, err)
	exp := out.(AccountExport)
	if len(exp.ReadsOfMyRecord) != ExportAuditLimit || exp.ReadsOfMyRecordOmitted != 5 {
		t.Fatalf("reads of my record: %d shown, %d omitted; want %d and 5", len(exp.ReadsOfMyRecord), exp.ReadsOfMyRecordOmitted, ExportAuditLimit)
	}
	if first := exp.ReadsOfMyRecord[0]; first.ID != fmt.Sprintf("a%05d", ExportAuditLimit+4) {
		t.Fatalf("first entry %+v, want the newest", first)
	}
	if len(exp.ReadsByMe) != 1 || exp.ReadsByMeOmitted != 0 {
		t.Fatalf("reads by me: %+v, %d omitted", exp.ReadsByMe, exp.ReadsByMeOmitted)
	}
}
