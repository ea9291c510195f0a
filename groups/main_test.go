package groups

import (
	"testing"

	"github.com/clavis-app/clavis/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
