package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/hookd/hookd/internal/report"
	"github.com/hookd/hookd/internal/webhook"
)

func ExampleCSVWriter() {
	w := report.NewCSVWriter(os.Stdout)
	rows := []report.Row{
		{ID: "evt_1", Source: "github", Type: "push", Status: webhook.StatusSuccess,
			ReceivedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Deliveries: 1, Attempts: 1},
		{ID: "evt_2", Source: "github", Type: "=cmd()", Status: webhook.StatusFailed,
			Deliveries: 1, Attempts: 3, LastError: "503, then timeout"},
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// id,received_at,source,type,status,deliveries,attempts,last_error
	// evt_1,2025-01-02T03:04:05.000Z,github,push,success,1,1,
	// evt_2,,github,'=cmd(),failed,1,3,"503, then timeout"
}
