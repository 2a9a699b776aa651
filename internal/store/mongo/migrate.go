package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// schemaVersion is the newest entry of migrations.
const schemaVersion = 2

// migrations create collections and indexes, one step per schema version.
// Each step is idempotent (creating an index that exists with the same
// keys and options does nothing), so processes starting together may run
// one at once; the version stored in meta only skips steps already done.
var migrations = []func(ctx context.Context, db *mongo.Database) error{
	1: func(ctx context.Context, db *mongo.Database) error {
		indexes := map[string][]mongo.IndexModel{
			"events": {
				// Idempotency: only events with a key have ikey.
				{Keys: bson.D{{Key: "ikey", Value: 1}}, Options: options.Index().SetName("ikey").SetUnique(true).SetSparse(true)},
				// The queue: a destination's events in due order.
				{Keys: bson.D{{Key: "dl.dest", Value: 1}, {Key: "due", Value: 1}}, Options: options.Index().SetName("dest_due")},
				{Keys: bson.D{{Key: "due", Value: 1}}, Options: options.Index().SetName("due")},
				{Keys: bson.D{{Key: "dl.id", Value: 1}}, Options: options.Index().SetName("delivery_id")},
				{Keys: bson.D{{Key: "status", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("status_id")},
				{Keys: bson.D{{Key: "source", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("source_id")},
				{Keys: bson.D{{Key: "recv", Value: 1}}, Options: options.Index().SetName("recv")},
			},
			"api_keys": {
				{Keys: bson.D{{Key: "hash", Value: 1}}, Options: options.Index().SetName("hash").SetUnique(true)},
			},
		}
		for _, name := range []string{"events", "settings", "users", "api_keys", "catalog", "destination_states"} {
			if models := indexes[name]; len(models) > 0 {
				if _, err := db.Collection(name).Indexes().CreateMany(ctx, models); err != nil {
					return fmt.Errorf("indexes of %s: %w", name, err)
				}
			}
		}
		return nil
	},
	2: func(ctx context.Context, db *mongo.Database) error {
		// Ordered delivery: a delivery's predecessor or successor in its
		// key, by position (ordering.go).
		_, err := db.Collection("events").Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "dl.dest", Value: 1}, {Key: "dl.okey", Value: 1}, {Key: "dl.oseq", Value: 1}},
			Options: options.Index().SetName("ordering").SetSparse(true),
		})
		if err != nil {
			return fmt.Errorf("ordering index of events: %w", err)
		}
		return nil
	},
}

// migrate brings the database to schemaVersion.
func (s *Store) migrate(ctx context.Context) error {
	meta := s.db.Collection("meta")
	var cur struct {
		Version int `bson:"version"`
	}
	err := meta.FindOne(ctx, bson.M{"_id": "schema"}).Decode(&cur)
	if err != nil && err != mongo.ErrNoDocuments {
		return fmt.Errorf("mongo: read schema version: %w", err)
	}
	if cur.Version > schemaVersion {
		return fmt.Errorf("mongo: database schema version %d is newer than this binary's %d", cur.Version, schemaVersion)
	}
	for v := cur.Version + 1; v <= schemaVersion; v++ {
		if err := migrations[v](ctx, s.db); err != nil {
			return fmt.Errorf("mongo: migrate to %d: %w", v, err)
		}
		_, err := meta.UpdateOne(ctx, bson.M{"_id": "schema"}, bson.M{"$max": bson.M{"version": v}}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("mongo: store schema version %d: %w", v, err)
		}
	}
	return nil
}
