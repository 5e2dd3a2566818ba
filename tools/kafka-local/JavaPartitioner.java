// The Java producer's choice of partition for a key, as an oracle for
// Runnel's partitioner test. Reads lines "hexkey numPartitions" on stdin and
// prints one partition per line, computed by kafka-clients itself
// (BuiltInPartitioner.partitionForKey = toPositive(murmur2(key)) % n).
// Run with: kafka-local java-partition (single-file source launch).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

public class JavaPartitioner {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PrintWriter out = new PrintWriter(System.out);
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String[] parts = line.trim().split("\\s+");
      String hex = parts.length == 2 ? parts[0] : "";
      int n = Integer.parseInt(parts[parts.length - 1]);
      byte[] key = new byte[hex.length() / 2];
      for (int i = 0; i < key.length; i++) {
        key[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
      }
      out.println(BuiltInPartitioner.partitionForKey(key, n));
    }
    out.flush();
  }
}
