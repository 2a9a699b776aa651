package stream_test

import (
	"fmt"

	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

func ExampleHub() {
	hub := stream.NewHub(stream.Options{})
	defer hub.Close()

	dead := hub.Subscribe(stream.Filter{Statuses: []webhook.Status{webhook.StatusPermanentFailure}})
	defer dead.Close()

	hub.Publish(stream.Change{Kind: stream.KindAttempt, EventID: "evt_1", Status: webhook.StatusFailed})
	hub.Publish(stream.Change{Kind: stream.KindDeliveryDead, EventID: "evt_1", Status: webhook.StatusPermanentFailure})

	c := <-dead.C()
	fmt.Println(c.Kind, c.EventID, c.Status)
	// Output: delivery.dead evt_1 permanent_failure
}
