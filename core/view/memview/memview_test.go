package memview_test

import (
	"testing"

	"github.com/eddyhq/eddy/core/view/driver"
	"github.com/eddyhq/eddy/core/view/memview"
	"github.com/eddyhq/eddy/core/view/viewtest"
)

func TestConformance(t *testing.T) {
	viewtest.Run(t, func(*testing.T) driver.Store { return memview.New() }, viewtest.Config{})
}
