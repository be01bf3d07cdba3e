package codegen

import (
	"bytes"
	"fmt"

	"github.com/waybill/waybill/pkg/catalog"
)

// kafka writes the Kafka wrappers of one event type into the package's
// kafka.go: a typed producer constructor and a handler registration per
// version, the unsuffixed ones for the latest version.
func (g *generator) kafka(w *bytes.Buffer, e *catalog.Event) {
	base := exported(e.Name)
	latest := e.Latest()
	for _, v := range e.Versions {
		typ := g.names[v.Schema].name
		fn := base
		if v != latest {
			fn = typ
		}
		if v == latest {
			comment(w, "", fmt.Sprintf("New%sProducer returns a producer of %s events on p, written with version %d, the latest. "+
				"Send fills the envelope (event ID, time, source, trace context from ctx) and waits for the broker's acknowledgement; "+
				"the key is the event's %s.", fn, e.FullName, v.Number, e.Key))
		} else {
			comment(w, "", fmt.Sprintf("New%sProducer returns a producer of %s events on p written with version %d, "+
				"for a service that has not moved to version %d yet.", fn, e.FullName, v.Number, latest.Number))
		}
		fmt.Fprintf(w, "func New%sProducer(p *producer.Producer) *producer.Typed[*%s] {\nreturn producer.NewTyped[*%s](p)\n}\n\n", fn, typ, typ)
		comment(w, "", fmt.Sprintf("Handle%s registers h on c for %s events of every version the reader can resolve, "+
			"decoded as %s: events written with another version are converted by Avro schema resolution.", fn, e.FullName, typ))
		fmt.Fprintf(w, "func Handle%s(c *consumer.Consumer, h func(ctx context.Context, m consumer.Meta, ev *%s) error) {\n"+
			"consumer.Handle(c, func() *%s { return new(%s) }, h)\n}\n\n", fn, typ, typ, typ)
	}
}
