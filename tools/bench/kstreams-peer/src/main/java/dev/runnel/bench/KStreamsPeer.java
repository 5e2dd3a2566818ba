package dev.runnel.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The "Kafka Streams" contender of tools/bench: the topologies of runnel_contender.cc, written in
 * Kafka Streams' DSL, with the same arguments, the same output bytes and the same JSON line.
 *
 * <pre>
 *   W1:  stream(input).filter(non-empty).mapValues(upper-case first byte).to(output)
 *   W2:  stream(input).groupByKey().count(store "counts").toStream().to(output): 8-byte big-endian
 *        counts (LongSerde)
 *   W3:  groupByKey().windowedBy(60 s tumbling, grace 5 s).count(store "window-counts")
 *        .toStream().map(key -> "key@window start").to(output)
 *   W3m: the same windows, aggregate (count, max of the number each value starts with) as 16
 *        bytes (count then max, 8 bytes big-endian each), store "window-count-max"
 *   W3h: W3m over hopping windows, 10 s advancing by 2 s, grace 5 s
 *   W4t: table(--table, store "table") joined by stream(input): value + "|" + the row's first 8
 *        bytes; the table's records count as inputs (the run ends after --table-records + N)
 *   W4s: stream(input).join(stream(--right), left value's first 13 bytes + "," + right's,
 *        JoinWindows 30 s either way, grace 5 s); ends after 2N input records
 *   W6:  the W2 topology on an empty state.dir while its changelog (app-id-counts-changelog)
 *        already holds the state: Start until every changelog record is restored and the
 *        instance is RUNNING
 * </pre>
 *
 * Every workload keeps Kafka Streams' defaults except what Runnel's contender sets too:
 * num.stream.threads, commit.interval.ms, processing.guarantee and a 10 MiB record cache
 * (statestore.cache.max.bytes; emit on update through the cache, as Runnel's). W1-W4 run until
 * their input records are processed, then close cleanly (final commit). Prints one JSON line:
 * records, seconds (first processed record to the end of the clean close; W6: start to
 * restored), cpu_seconds (the whole JVM's), max_rss_kb (VmHWM), dropped (the tasks'
 * dropped-records-total) and, for W6, restored_records and restore_seconds.
 */
public final class KStreamsPeer {
  private static final long CACHE_BYTES = 10L * 1024 * 1024;

  /** Input records processed so far, over every stream thread. */
  private static final LongAdder processed = new LongAdder();

  private KStreamsPeer() {}

  /** W3m/W3h's aggregate per (key, window); max starts below every number. */
  record CountMax(long count, long max) {
    static final CountMax EMPTY = new CountMax(0, Long.MIN_VALUE);
  }

  /** CountMax as 16 bytes, count then max, each 8 bytes big-endian: runnel_contender's bytes. */
  static final class CountMaxSerde {
    static Serde<CountMax> create() {
      Serializer<CountMax> ser =
          (topic, v) -> v == null ? null : ByteBuffer.allocate(16).putLong(v.count()).putLong(v.max()).array();
      Deserializer<CountMax> de =
          (topic, data) -> {
            if (data == null) {
              return null;
            }
            if (data.length != 16) {
              throw new IllegalArgumentException("count-max: wants 16 bytes, got " + data.length);
            }
            ByteBuffer b = ByteBuffer.wrap(data);
            return new CountMax(b.getLong(), b.getLong());
          };
      return Serdes.serdeFrom(ser, de);
    }
  }

  /** The number a value starts with (up to 9 decimal digits), parsed as runnel_contender does. */
  static long valueNumber(String value) {
    long n = 0;
    for (int i = 0; i < Math.min(value.length(), 9); ++i) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        break;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }

  static String prefix(String s, int n) {
    return s.length() <= n ? s : s.substring(0, n);
  }

  private static int usage(String why) {
    System.err.println("kstreams-peer: " + why);
    System.err.println(
        "usage: kstreams-peer --workload W1|W2|W3|W3m|W3h|W4t|W4s|W6 --bootstrap B --input T --output T"
            + " --records N --app-id A [--threads K] [--partitions P] [--guarantee G] [--commit-ms MS]"
            + " [--table T --table-records M (W4t)] [--right T (W4s)]");
    return 2;
  }

  public static void main(String[] args) throws Exception {
    System.exit(run(args));
  }

  static int run(String[] args) throws Exception {
    Map<String, String> flags = new HashMap<>();
    flags.put("--app-id", "kstreams-bench");
    flags.put("--threads", "1");
    flags.put("--workload", "W1");
    flags.put("--partitions", "4");
    flags.put("--guarantee", "at_least_once");
    flags.put("--commit-ms", "1000");
    flags.put("--table-records", "0");
    if (args.length % 2 != 0) {
      return usage("flags come in pairs: " + String.join(" ", args));
    }
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!Stream.of("--bootstrap", "--input", "--output", "--records", "--app-id", "--threads", "--workload",
              "--partitions", "--guarantee", "--commit-ms", "--table", "--table-records", "--right")
          .anyMatch(args[i]::equals)) {
        return usage("unknown flag " + args[i]);
      }
      flags.put(args[i], args[i + 1]);
    }
    String workload = flags.get("--workload");
    String bootstrap = flags.get("--bootstrap");
    String input = flags.get("--input");
    String output = flags.get("--output");
    String app = flags.get("--app-id");
    String table = flags.get("--table");
    String right = flags.get("--right");
    long records;
    long tableRecords;
    try {
      records = Long.parseLong(flags.getOrDefault("--records", "0"));
      tableRecords = Long.parseLong(flags.get("--table-records"));
      Integer.parseInt(flags.get("--threads"));
      Long.parseLong(flags.get("--commit-ms"));
    } catch (NumberFormatException e) {
      return usage("--records, --table-records, --threads and --commit-ms take integers: " + e.getMessage());
    }
    boolean known =
        Stream.of("W1", "W2", "W3", "W3m", "W3h", "W6").anyMatch(workload::equals)
            || (workload.equals("W4t") && table != null && tableRecords > 0)
            || (workload.equals("W4s") && right != null);
    if (bootstrap == null || input == null || output == null || records <= 0 || !known) {
      return usage("missing or bad flags");
    }
    // Input records to process before closing (W6: changelog records to restore).
    long inputs = workload.equals("W4t") ? tableRecords + records : workload.equals("W4s") ? 2 * records : records;

    StreamsBuilder builder = new StreamsBuilder();
    buildTopology(builder, workload, input, output, table, right);

    Path stateDir = Paths.get(System.getProperty("java.io.tmpdir"), "kstreams-bench-" + app);
    deleteRecursively(stateDir);
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, flags.get("--threads"));
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, flags.get("--commit-ms"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, flags.get("--guarantee"));
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.toString(CACHE_BYTES));
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(
        e -> {
          failure.compareAndSet(null, e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    // W6: changelog records restored, and when the restore began and ended (ns).
    AtomicLong restored = new AtomicLong();
    AtomicLong restoreStart = new AtomicLong();
    AtomicLong restoreEnd = new AtomicLong();
    streams.setGlobalStateRestoreListener(
        new StateRestoreListener() {
          @Override
          public void onRestoreStart(TopicPartition tp, String store, long startOffset, long endOffset) {
            restoreStart.compareAndSet(0, System.nanoTime());
          }

          @Override
          public void onBatchRestored(TopicPartition tp, String store, long batchEndOffset, long numRestored) {
            restored.addAndGet(numRestored);
            restoreEnd.set(System.nanoTime());
          }

          @Override
          public void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
            restoreEnd.set(System.nanoTime());
          }
        });

    long start = System.nanoTime();
    streams.start();
    boolean started = false;
    while (workload.equals("W6")
        ? restored.get() < inputs || streams.state() != KafkaStreams.State.RUNNING
        : processed.sum() < inputs) {
      if (!started && !workload.equals("W6") && processed.sum() > 0) {
        start = System.nanoTime();
        started = true;
      }
      KafkaStreams.State state = streams.state();
      if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR
          || state == KafkaStreams.State.NOT_RUNNING || state == KafkaStreams.State.PENDING_SHUTDOWN) {
        System.err.println("kstreams-peer: Kafka Streams is " + state
            + (failure.get() != null ? ": " + failure.get() : ""));
        if (failure.get() != null) {
          failure.get().printStackTrace();
        }
        streams.close(Duration.ofSeconds(30));
        return 1;
      }
      Thread.sleep(1);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double dropped = droppedRecords(streams);
    boolean closed = streams.close(Duration.ofMinutes(5));
    if (!workload.equals("W6")) {
      seconds = (System.nanoTime() - start) / 1e9;
    }
    deleteRecursively(stateDir);
    if (!closed) {
      System.err.println("kstreams-peer: Kafka Streams did not close within 5 minutes");
      return 1;
    }
    if (failure.get() != null) {
      System.err.println("kstreams-peer: a stream thread failed: " + failure.get());
      return 1;
    }
    double cpu =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime()
            / 1e9;
    double restoreSeconds = restoreStart.get() == 0 ? 0 : (restoreEnd.get() - restoreStart.get()) / 1e9;
    System.out.printf(Locale.ROOT,
        "{\"contender\":\"kstreams\",\"records\":%d,\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"max_rss_kb\":%d,"
            + "\"dropped\":%d,\"restored_records\":%d,\"restore_seconds\":%.3f}%n",
        workload.equals("W6") ? records : processed.sum(), seconds, cpu, peakRssKb(), (long) dropped,
        restored.get(), restoreSeconds);
    System.out.flush();
    return 0;
  }

  private static void buildTopology(
      StreamsBuilder builder, String workload, String input, String output, String table, String right) {
    Serde<String> strings = Serdes.String();
    Serde<Long> longs = Serdes.Long();
    KStream<String, String> stream =
        builder.stream(input, Consumed.with(strings, strings)).peek((k, v) -> processed.increment());
    switch (workload) {
      case "W1" -> stream
          .filter((k, v) -> v != null && !v.isEmpty())
          .mapValues(v -> Character.toUpperCase(v.charAt(0)) + v.substring(1))
          .to(output, Produced.with(strings, strings));
      case "W3" -> stream
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(5)))
          .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("window-counts")
              .withKeySerde(strings).withValueSerde(longs))
          .toStream()
          .map((w, n) -> KeyValue.pair(w.key() + "@" + w.window().start(), n))
          .to(output, Produced.with(strings, longs));
      case "W3m", "W3h" -> {
        TimeWindows windows = workload.equals("W3m")
            ? TimeWindows.ofSizeAndGrace(Duration.ofSeconds(60), Duration.ofSeconds(5))
            : TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5))
                .advanceBy(Duration.ofSeconds(2));
        Serde<CountMax> countMax = CountMaxSerde.create();
        stream
            .groupByKey()
            .windowedBy(windows)
            .aggregate(
                () -> CountMax.EMPTY,
                (k, v, agg) -> new CountMax(agg.count() + 1, Math.max(agg.max(), valueNumber(v))),
                Materialized.<String, CountMax, WindowStore<Bytes, byte[]>>as("window-count-max")
                    .withKeySerde(strings).withValueSerde(countMax))
            .toStream()
            .map((w, agg) -> KeyValue.pair(w.key() + "@" + w.window().start(), agg))
            .to(output, Produced.with(strings, countMax));
      }
      case "W4t" -> {
        // The table's records are inputs too (counted like the stream's): a stream of the
        // topic made a table, materialized like builder.table's store (RocksDB + changelog +
        // cache).
        KTable<String, String> rows = builder
            .stream(table, Consumed.with(strings, strings))
            .peek((k, v) -> processed.increment())
            .toTable(Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("table")
                .withKeySerde(strings).withValueSerde(strings));
        stream
            .join(rows, (v, row) -> v + "|" + prefix(row, 8), Joined.with(strings, strings, strings))
            .to(output, Produced.with(strings, strings));
      }
      case "W4s" -> {
        KStream<String, String> other =
            builder.stream(right, Consumed.with(strings, strings)).peek((k, v) -> processed.increment());
        stream
            .join(other,
                (l, r) -> prefix(l, 13) + "," + prefix(r, 13),
                JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(30), Duration.ofSeconds(5)),
                StreamJoined.with(strings, strings, strings))
            .to(output, Produced.with(strings, strings));
      }
      default -> stream // W2 and W6
          .groupByKey()
          .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
              .withKeySerde(strings).withValueSerde(longs))
          .toStream()
          .to(output, Produced.with(strings, longs));
    }
  }

  /** The tasks' dropped-records-total (late or unparseable records), summed over tasks. */
  private static double droppedRecords(KafkaStreams streams) {
    double total = 0;
    for (Map.Entry<org.apache.kafka.common.MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      if (e.getKey().name().equals("dropped-records-total") && e.getValue().metricValue() instanceof Double d) {
        total += d;
      }
    }
    return total;
  }

  /** The process's peak resident set (VmHWM in /proc/self/status), in KiB; -1 if unknown. */
  private static long peakRssKb() throws IOException {
    for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
