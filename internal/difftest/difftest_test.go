package difftest_test

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/internal/difftest"
	"github.com/waybill/waybill/internal/testenv"
)

var (
	seedFlag  = flag.Uint64("difftest.seed", 20250917, "seed of the generated schema pairs")
	pairsFlag = flag.Int("difftest.pairs", 2500, "number of generated schema pairs")
)

// requireReference returns a reference checker, or skips the test with a
// clear "SKIP:" message when the reference is not installed. With CI=true a
// missing reference fails the test instead, so the differential test can never
// silently stop running in CI.
func requireReference(t *testing.T, find func() (*difftest.Reference, error)) *difftest.Reference {
	t.Helper()
	ref, err := find()
	if err == nil {
		return ref
	}
	testenv.Missing(t, "reference checker unavailable (apt-get install libavro-java python3-avro default-jdk-headless): %v", err)
	return nil
}

// A knownClass is a documented reason why an Avro reference answers a pair
// differently from compat.Check, with a rewrite of the pair that proves it.
//
// A quirk rewrite keeps the pair's meaning under the specification and
// removes the reference's quirk: compat.Check must give the same answer on the
// rewritten pair as on the original (checked for every pair), and the
// reference changes its answer. An emulation rewrite makes compat.Check apply
// the reference's older rule: the reference must give the same answer on the
// rewritten pair. A disagreement is explained by a set of classes when, on the
// pair rewritten by all of them, the reference and compat.Check agree.
type knownClass struct {
	id, ref string
	quirk   bool
	reader  difftest.Rewrite // nil: leave the reader as is
	writer  difftest.Rewrite
	explain string
}

// resolution is the specification section every explanation refers to.
const resolution = "https://avro.apache.org/docs/1.11.1/specification/#schema-resolution"

var knownClasses = []knownClass{
	{
		id: "java-1.8.2-no-enum-default", ref: "java",
		reader: difftest.StripEnumDefaults,
		explain: "Avro Java 1.8.2 predates enum defaults (added in 1.9, AVRO-1340): a writer symbol the reader " +
			"lacks is an error even when the reader enum has a default. The specification (" + resolution +
			", enums: \"if the writer's symbol is not present in the reader's enum and the reader has a default " +
			"value, then that value is used, otherwise an error is signalled\") makes such pairs compatible, as " +
			"compat.Check and Avro Java 1.9+ say. Proof: with the reader's enum defaults removed, compat.Check " +
			"gives Java 1.8.2's answer, and Java 1.8.2 its own.",
	},
	{
		id: "java-1.8.2-full-name-match", ref: "java",
		reader: difftest.FullNamesAsNames, writer: difftest.FullNamesAsNames,
		explain: "Avro Java 1.8.2 matches records, enums and fixed by full name, so a namespace change alone is " +
			"incompatible. The specification (" + resolution + ": \"both schemas are records with the same " +
			"(unqualified) name\", likewise enums and fixed) matches unqualified names, as compat.Check and " +
			"current Avro Java (SchemaCompatibility.schemaNameEquals compares getName()) do. Proof: with every " +
			"type renamed to its full name (FullNamesAsNames), compat.Check gives Java 1.8.2's answer, and " +
			"Java 1.8.2 its own.",
	},
	{
		id: "java-1.8.2-writer-union", ref: "java", quirk: true,
		reader: difftest.WrapInUnions,
		explain: "Avro Java 1.8.2 rejects a writer union read by a reader that is not a union unless the union " +
			"has a single branch, even when every branch resolves. The specification (" + resolution + ": \"if " +
			"writer's is a union, but reader's is not: if the reader's schema matches the selected writer's " +
			"schema, it is recursively resolved against it\") makes the pair compatible when every writer " +
			"branch resolves, as compat.Check and later Avro Java (\"reader compatible with all branches of a " +
			"writer union is compatible\") say. Proof: with every reader type wrapped in a one-branch union, " +
			"which resolves the same way, Java 1.8.2 agrees with compat.Check.",
	},
	{
		id: "python-names-as-written", ref: "python", quirk: true,
		reader: difftest.NormalizeNames, writer: difftest.NormalizeNames,
		explain: "Avro Python 1.11.1 compares the \"name\" attribute as written (\"a.b.X\" differs from \"X\" " +
			"with namespace \"a.b\"; fixed later, AVRO-3622) and reader aliases as written with the writer's " +
			"full name (an alias relative to the namespace never matches). The specification's Names section " +
			"makes both forms the same full name, and " + resolution + " matches unqualified names and reader " +
			"aliases resolved to full names. Proof: with every name written as name + namespace and every " +
			"alias as a full name, which means the same schema, Python agrees with compat.Check.",
	},
}

type outcome struct {
	compatible bool
	err        string // compat.Parse error
	findings   string
	logical    bool // a logical-type warning: Avro Java ignores logical types, compat.Check only warns
}

func runCompat(reader, writer string) outcome {
	r, err := compat.Parse([]byte(reader))
	if err != nil {
		return outcome{err: "reader: " + err.Error()}
	}
	w, err := compat.Parse([]byte(writer))
	if err != nil {
		return outcome{err: "writer: " + err.Error()}
	}
	res := compat.Check(r, w)
	o := outcome{compatible: res.Compatible(), findings: res.Incompatibilities.Error()}
	for _, f := range res.Warnings {
		switch f.Rule {
		case compat.DecimalChanged, compat.TimestampUnitChanged, compat.LogicalTypeChanged:
			o.logical = true
		}
	}
	return o
}

func rewritePair(p difftest.Pair, classes []knownClass) (difftest.Pair, error) {
	q := p
	q.Mutations = nil
	var err error
	for _, c := range classes {
		if c.reader != nil {
			if q.Reader, err = c.reader(q.Reader); err != nil {
				return q, err
			}
		}
		if c.writer != nil {
			if q.Writer, err = c.writer(q.Writer); err != nil {
				return q, err
			}
		}
	}
	return q, nil
}

// subsets returns the non-empty subsets of classes, smallest first.
func subsets(classes []knownClass) [][]knownClass {
	var out [][]knownClass
	for mask := 1; mask < 1<<len(classes); mask++ {
		var s []knownClass
		for i, c := range classes {
			if mask&(1<<i) != 0 {
				s = append(s, c)
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) < len(out[j]) })
	return out
}

func classID(s []knownClass) string {
	ids := make([]string, len(s))
	for i, c := range s {
		ids[i] = c.id
	}
	return strings.Join(ids, " + ")
}

func TestDifferential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	java := requireReference(t, func() (*difftest.Reference, error) { return difftest.Java(ctx, dir) })
	python := requireReference(t, func() (*difftest.Reference, error) { return difftest.Python(ctx, dir) })
	refs := []*difftest.Reference{java, python}

	pairs := difftest.Generate(*seedFlag, *pairsFlag)
	verdicts := map[string][]difftest.Verdict{}
	for _, ref := range refs {
		v, err := ref.Check(ctx, pairs)
		if err != nil {
			t.Fatal(err)
		}
		verdicts[ref.Name] = v
	}

	ours := make([]outcome, len(pairs))
	for i, p := range pairs {
		ours[i] = runCompat(p.Reader, p.Writer)
		for _, ref := range refs {
			if e := verdicts[ref.Name][i].Error; e != "" {
				t.Errorf("%s rejects a generated pair (generator bug): %s\n%s", ref.Name, e, p)
			}
		}
		if ours[i].err != "" {
			t.Errorf("compat.Parse rejects a pair both references accept: %s\n%s", ours[i].err, p)
		}
	}

	// Quirk rewrites keep a pair's meaning: compat.Check must not change its answer.
	for _, c := range knownClasses {
		if !c.quirk {
			continue
		}
		bad := 0
		for i, p := range pairs {
			q, err := rewritePair(p, []knownClass{c})
			if err != nil {
				t.Fatalf("%s: rewrite: %v", c.id, err)
			}
			if got := runCompat(q.Reader, q.Writer); got.err != "" || got.compatible != ours[i].compatible {
				if bad++; bad <= 5 {
					t.Errorf("compat.Check changes its answer under %s, which keeps the schemas' meaning: %v -> %v %s\n%s\nrewritten: %s",
						c.id, ours[i].compatible, got.compatible, got.err, p, q)
				}
			}
		}
	}

	agreeWith := map[string]int{}
	var breakdown []string
	for _, ref := range refs {
		v := verdicts[ref.Name]
		var classes []knownClass
		for _, c := range knownClasses {
			if c.ref == ref.Name {
				classes = append(classes, c)
			}
		}
		sets := subsets(classes)

		// Every disagreement, rewritten by every set of known classes, in one batch.
		var disagree []int
		var batch []difftest.Pair
		for i := range pairs {
			if v[i].Error != "" || ours[i].err != "" || v[i].Compatible == ours[i].compatible {
				continue
			}
			disagree = append(disagree, i)
			for _, s := range sets {
				q, err := rewritePair(pairs[i], s)
				if err != nil {
					t.Fatalf("rewrite: %v", err)
				}
				batch = append(batch, q)
			}
		}
		again, err := ref.Check(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}

		counts := map[string]int{}
		unexplained := 0
		for k, i := range disagree {
			answers := again[k*len(sets) : (k+1)*len(sets)]
			refOn := func(s []knownClass) difftest.Verdict {
				if len(s) == 0 {
					return v[i]
				}
				for j, other := range sets {
					if classID(other) == classID(s) {
						return answers[j]
					}
				}
				panic("no such set")
			}
			explained := ""
			for j, s := range sets {
				rw := batch[k*len(sets)+j]
				got := runCompat(rw.Reader, rw.Writer)
				if answers[j].Error != "" || got.err != "" || answers[j].Compatible != got.compatible {
					continue
				}
				// An emulation rewrite must not change the reference's answer.
				var quirks []knownClass
				for _, c := range s {
					if c.quirk {
						quirks = append(quirks, c)
					}
				}
				if len(quirks) < len(s) && refOn(quirks) != answers[j] {
					continue
				}
				explained = classID(s)
				break
			}
			if explained != "" {
				counts[explained]++
				continue
			}
			if unexplained++; unexplained <= 10 {
				t.Errorf("unexplained disagreement with %s: %s says compatible=%v, compat.Check says %v (%s)\n%s",
					ref.Name, ref.Name, v[i].Compatible, ours[i].compatible, ours[i].findings, pairs[i])
			}
		}
		if unexplained > 10 {
			t.Errorf("%d more unexplained disagreements with %s", unexplained-10, ref.Name)
		}
		agree := 0
		for i := range pairs {
			if v[i].Error == "" && ours[i].err == "" && v[i].Compatible == ours[i].compatible {
				agree++
			}
		}
		agreeWith[ref.Name] = agree
		ids := make([]string, 0, len(counts))
		for id := range counts {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			breakdown = append(breakdown, fmt.Sprintf("%s disagrees, known class %s: %d", ref.Name, id, counts[id]))
		}
		breakdown = append(breakdown, fmt.Sprintf("%s disagrees, unexplained: %d", ref.Name, unexplained))
	}

	// How the references compare with each other, and which of them
	// compat.Check sides with when they differ.
	both, compatible, withJava, withPython, logical := 0, 0, 0, 0, 0
	for i := range pairs {
		if ours[i].logical {
			logical++
		}
		j, p := verdicts["java"][i], verdicts["python"][i]
		switch {
		case j == p:
			both++
		case ours[i].err == "" && ours[i].compatible == j.Compatible:
			withJava++
		case ours[i].err == "" && ours[i].compatible == p.Compatible:
			withPython++
		}
		if ours[i].compatible {
			compatible++
		}
	}
	t.Logf("java: agree %d/%d; python: agree %d/%d; java vs python: agree %d/%d (compat.Check sides with java %d, python %d); compat.Check compatible %d/%d, logical-type warnings on %d; seed %d",
		agreeWith["java"], len(pairs), agreeWith["python"], len(pairs), both, len(pairs), withJava, withPython,
		compatible, len(pairs), logical, *seedFlag)
	for _, b := range breakdown {
		t.Log(b)
	}
	if testing.Verbose() {
		for _, c := range knownClasses {
			t.Logf("known class %s: %s", c.id, c.explain)
		}
	}
}
