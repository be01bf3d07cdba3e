package dedup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

func ExampleNewMemory() {
	store := dedup.NewMemory(100_000)
	ctx := context.Background()
	for _, id := range []string{"0190d5c2-a", "0190d5c2-b", "0190d5c2-a"} { // "a" is delivered twice
		dup, err := store.Do(ctx, id, func(ctx context.Context) error {
			fmt.Println("handling", id)
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		if dup {
			fmt.Println("skipped duplicate", id)
		}
	}
	store.Close()
	// Output:
	// handling 0190d5c2-a
	// handling 0190d5c2-b
	// skipped duplicate 0190d5c2-a
}

// A handler keeps its state (here, stock per SKU) in its own bucket of the
// store's file and writes it through Tx, so that the stock changes if and
// only if the event is recorded as handled, even across a crash.
func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "dedup")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := dedup.OpenBolt(filepath.Join(dir, "orders.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	stock := []byte("stock")
	if err := store.DB().Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(stock)
		return err
	}); err != nil {
		panic(err)
	}

	reserve := func(ctx context.Context) error {
		b := dedup.Tx(ctx).Bucket(stock) // not DB().Update: that would wait forever
		n := 0
		if v := b.Get([]byte("sku-1")); v != nil {
			if _, err := fmt.Sscan(string(v), &n); err != nil {
				return err
			}
		}
		return b.Put([]byte("sku-1"), fmt.Append(nil, n+1))
	}
	for range 2 { // the event is delivered twice
		dup, err := store.Do(context.Background(), "0190d5c2-a", reserve)
		fmt.Println("duplicate:", dup, err)
	}
	_ = store.DB().View(func(tx *bbolt.Tx) error {
		fmt.Printf("reserved: %s\n", tx.Bucket(stock).Get([]byte("sku-1")))
		return nil
	})
	// Output:
	// duplicate: false <nil>
	// duplicate: true <nil>
	// reserved: 1
}
