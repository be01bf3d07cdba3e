// CompatRef is the Apache Avro Java reference for Waybill's differential test
// of compat.Check (internal/difftest). It reads JSON lines
// {"reader":<schema>,"writer":<schema>} on stdin and writes one line per input
// line: {"compatible":true|false} or {"error":"..."}.
//
// It runs against whatever Avro jar is on the classpath (the Debian package
// libavro-java, 1.8.2, in Waybill's dev image); it only uses API present in
// every version since 1.7: Schema.Parser and
// SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getType().
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.codehaus.jackson.JsonNode;
import org.codehaus.jackson.map.ObjectMapper;

public final class CompatRef {
  public static void main(String[] args) throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.trim().isEmpty()) {
        continue;
      }
      String result;
      try {
        JsonNode pair = mapper.readTree(line);
        Schema reader = parse(pair.get("reader"), "reader");
        Schema writer = parse(pair.get("writer"), "writer");
        SchemaCompatibility.SchemaCompatibilityType t =
            SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getType();
        result = "{\"compatible\":" + (t == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) + "}";
      } catch (Throwable e) {
        result = "{\"error\":" + mapper.writeValueAsString(e.getClass().getName() + ": " + e.getMessage()) + "}";
      }
      out.write(result);
      out.write('\n');
    }
    out.flush();
  }

  private static Schema parse(JsonNode node, String side) {
    if (node == null) {
      throw new IllegalArgumentException("missing " + side);
    }
    try {
      // A fresh parser per schema: names defined by one side must not leak into the other.
      return new Schema.Parser().parse(node.toString());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(side + ": " + e.getMessage(), e);
    }
  }
}
