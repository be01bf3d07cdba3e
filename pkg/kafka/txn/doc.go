// Package txn is Waybill's exactly-once mode: consume, handle, produce in
// Kafka transactions, on confluent-kafka-go (librdkafka). The events a
// handler produces, the dead letters of the events it cannot handle, and the
// consumed offsets are committed in one transaction, so for consumers of the
// output that read with isolation.level=read_committed (Waybill's consumers
// do by default) every input event has its output exactly once: none lost,
// none twice, through aborts, restarts, rebalances and zombies.
//
//	p, err := txn.New(txn.Config{Kafka: cfg, Group: "warehouse", Topics: []string{"order-events"},
//		TransactionalID: "warehouse-0", Source: "warehouse-service"}, s)
//	txn.Handle(p, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
//		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
//			return out.Send(ctx, &warehouseevents.InventoryReservedV1{OrderID: ev.OrderID, ...})
//		})
//	err = p.Run(ctx)
//
// # The loop
//
// Run makes a consumer (group Group, isolation.level=read_committed,
// enable.auto.commit=false, enable.auto.offset.store=false, cooperative-sticky
// assignment, auto.offset.reset=earliest unless configured) and a
// transactional producer (transactional.id=TransactionalID, idempotence,
// acks=all, murmur2_random like package producer, lz4), calls
// InitTransactions, and then repeats:
//
//  1. collect a batch: poll up to MaxBatch records, for at most BatchWait after
//     the first (no transaction is open while it polls);
//  2. BeginTransaction;
//  3. per record: decode the envelope (envelope.Decoder) and the value
//     (serde.Deserialize into the handler's type), dispatch by ce_type and
//     run the handler; then produce, in the batch's order, the events the
//     handlers sent through Out and the dead letters;
//  4. SendOffsetsToTransaction(the offset after each partition's last record,
//     the consumer's group metadata);
//  5. CommitTransaction.
//
// Within a batch, up to Workers handlers run at once, across keys: the
// records of one key are handled in offset order by one worker, as in package
// consumer. Out.Send only collects an event: a handler attempt's events are
// kept when it returns nil, so a retried or dead-lettered attempt sends
// nothing; when the batch is handled, the events (and dead letters) are
// produced in the batch's order, so one key's outputs keep its order.
// Nothing is visible to read_committed readers before the commit.
//
// # Failures of an event
//
// As in package consumer: a record that does not decode (every
// envelope.Kind) is dead-lettered at once; a handler error marked
// consumer.Retryable is retried in place with back-off (Retry) inside the
// open transaction, and when the attempts run out, or for any other error
// (or a panic), the record is dead-lettered. A dead letter goes to
// kafka.DeadLetterTopic(topic) with the original key, value and headers byte
// for byte plus the kafka.HeaderDeadLetter* headers, produced in the same
// transaction as the offsets, so it is written exactly when the offset moves
// past its event. Events of a type without a handler are skipped and
// counted. A registry that cannot be reached (to decode an input, or for
// Out.Send to look an output's schema up) is not the event's fault: after
// Retry.Attempts it aborts the transaction (reason "registry"), and the batch
// is read again after Retry.Max; schemas seen before stay cached. An event a
// handler sends that librdkafka refuses to queue (larger than
// message.max.bytes, ...) aborts the transaction once (reason "produce");
// when its record comes again it is dead-lettered (code "handler", the
// reason naming the refusal) instead of handled, so it cannot stall the
// partition.
//
// # Failures of the transaction, as librdkafka documents them
//
//   - An error with IsRetriable (e.g. a call that timed out after OpTimeout,
//     the coordinator still loading) is retried: the same call again, with
//     back-off, up to 20 times; then Run stops with an error. InitTransactions
//     is retried until Run's context ends (in tries of a second), as a
//     consumer waits for its cluster.
//   - An error with TxnRequiresAbort (a produce request the broker refused,
//     the group's offsets refused, ...), or a Produce call that fails
//     because the transaction is already in that state: AbortTransaction,
//     then each partition of the batch is rewound (Seek) to the batch's
//     first record, the offset the last transaction committed, and the
//     records are read and handled again in a new transaction (after a back-off
//     as Retry's when the transaction before was aborted too). The aborted
//     transaction's events and dead letters are never visible to
//     read_committed readers. Handlers therefore run again after an abort:
//     their Kafka output is exactly once, a side effect outside Kafka is not.
//   - A fatal error (IsFatal). When this producer was fenced by a newer one
//     with the same TransactionalID (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH),
//     Run returns an error wrapping ErrFenced and ErrFatal: the instance is a
//     zombie whose partitions another instance owns, and a new producer would
//     fence that one in turn. Any other fatal error (librdkafka asks for a new
//     producer: a producer ID or transaction state the coordinator refuses)
//     is recovered from: the producer is replaced by a new one with the same
//     TransactionalID, whose InitTransactions aborts the open transaction,
//     and the batch is rewound and handled again, as after an abort
//     (counted in waybill_txn_producer_recreated_total). After three
//     replacements without a commit in between, Run returns an error
//     wrapping ErrFatal.
//
// The producer's Events() (delivery reports, client errors) are served by a
// goroutine of their own, as CommitTransaction and AbortTransaction need.
//
// # Rebalances and shutdown
//
// The rebalance callback runs inside Poll, and Poll is only called between
// transactions, so a revoke never meets an open transaction: records of
// revoked partitions still in the batch being collected are dropped (their
// offsets were not committed; the new owner reads them). Zombie fencing
// across rebalances is KIP-447's: the offsets carry the consumer's group
// metadata (generation), so a member that lost its partitions cannot commit
// offsets for them.
//
// When Run's context ends, Run stops collecting, finishes the batch it
// holds (handlers' contexts are not cancelled; its transaction commits),
// closes the consumer (leaving the group) and the producer.
//
// # TransactionalID
//
// TransactionalID must be stable for one instance across restarts and
// unique among the instances running at once, e.g. "<service>-<ordinal>"
// of a StatefulSet: when an instance restarts, InitTransactions with its ID
// aborts what its previous life left open and fences it if it still runs.
//
// A transaction left open longer than transaction.timeout.ms (librdkafka's
// default 60 s) is aborted by the coordinator, which bumps the producer's
// epoch: librdkafka then reports the producer as fenced, and Run returns
// ErrFenced as for a zombie (it cannot tell the two apart). Keep a batch's
// handling, retries included, well below that timeout (MaxBatch, Retry).
//
// # Metrics
//
// waybill_txn_commits_total{group}, waybill_txn_aborts_total{group,reason}
// (reason: produce, send_offsets, commit, registry),
// waybill_txn_retries_total{group,op} (op: init, send_offsets, commit,
// abort), waybill_txn_producer_recreated_total{group},
// waybill_txn_duration_seconds{group}; and, with package consumer's
// names, help and labels (so one process can run both):
// waybill_events_consumed_total, waybill_events_retried_total,
// waybill_events_dead_lettered_total{...,code}, waybill_events_skipped_total,
// waybill_handler_duration_seconds, waybill_consumer_lag{topic,partition,group}
// (the end of the partition, as librdkafka last saw it, less the offset the
// last transaction committed; updated on every commit and from the
// statistics, statistics.interval.ms 5 s unless configured), and the producer's
// waybill_events_produced_total{topic,event_type}. The consumed,
// dead-lettered, skipped and produced counters count committed transactions
// only: an aborted transaction's records are counted when they commit.
package txn
