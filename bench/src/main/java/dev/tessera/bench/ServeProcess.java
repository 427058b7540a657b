package dev.tessera.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bin/engine serve} as a child process, launched through the launcher itself (so with exactly its JVM
 * memory settings, plus {@code extraJavaOpts}), with native memory tracking and a GC log: what a benchmark needs
 * to look at the server from outside. Its resident memory, its native memory summary ({@code jcmd}), its
 * {@code /metrics}, and the GC pauses logged in a window. Closing sends SIGTERM and waits.
 */
final class ServeProcess implements AutoCloseable {
    private static final Pattern NMT_LINE =
            Pattern.compile("^-\\s+(.+?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");
    private static final Pattern NMT_TOTAL = Pattern.compile("^Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern GC_PAUSE = Pattern.compile("\\[gc\\s*\\] GC\\(\\d+\\) (Pause .*?) (\\d+\\.\\d+)ms$");

    private final Process process;
    private final int port;
    private final Path dir;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private ServeProcess(Process process, int port, Path dir) {
        this.process = process;
        this.port = port;
        this.dir = dir;
    }

    /**
     * Starts {@code launcher serve --host 127.0.0.1 --port P serveArgs...} and waits until it is SERVING.
     *
     * @param extraJavaOpts JVM flags added after the launcher's own (and after {@code $JAVA_OPTS})
     */
    static ServeProcess start(Path launcher, List<String> serveArgs, String extraJavaOpts) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path dir = Files.createTempDirectory("tessera-overload");
        List<String> command = new ArrayList<>(List.of(launcher.toString(), "serve", "--host", "127.0.0.1",
                "--port", Integer.toString(port)));
        command.addAll(serveArgs);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(dir.resolve("serve.log").toFile()));
        String inherited = System.getenv().getOrDefault("JAVA_OPTS", "");
        pb.environment().put("JAVA_OPTS", (inherited + " -XX:NativeMemoryTracking=summary -Xlog:gc:file="
                + dir.resolve("gc.log") + " " + extraJavaOpts).trim());
        Process p = pb.start();
        ServeProcess serve = new ServeProcess(p, port, dir);
        if (!HealthProbe.awaitServing("127.0.0.1", port, Duration.ofMinutes(5), p)) {
            serve.close();
            throw new IllegalStateException("serve did not become SERVING; its log: " + dir.resolve("serve.log"));
        }
        return serve;
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    /** The directory of its log and GC log. */
    Path dir() {
        return dir;
    }

    /** Its resident memory in MB (Linux), or -1. */
    long rssMb() {
        return rssMb(process.pid());
    }

    /** Resident memory of process {@code pid} in MB (Linux), or -1. */
    static long rssMb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * The JVM's own account of its native memory ({@code jcmd PID VM.native_memory summary}): committed MB per
     * category, and {@code total}; empty when jcmd is not found or fails. It covers what the JVM allocates (heap,
     * metaspace, threads, code, GC, direct buffers under "Other"), not what native libraries allocate with malloc
     * (ONNX Runtime's arenas and weights), which is why RSS can be larger.
     */
    Map<String, Long> nativeMemoryMb() {
        Map<String, Long> out = new LinkedHashMap<>();
        Path java = Path.of(ProcessHandle.current().info().command().orElse("java"));
        Path jcmd = java.getParent() == null ? Path.of("jcmd") : java.getParent().resolve("jcmd");
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()),
                    "VM.native_memory", "summary").redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
            for (String line : text.split("\n")) {
                String l = line.strip();
                Matcher t = NMT_TOTAL.matcher(l);
                if (t.find()) out.put("total", Long.parseLong(t.group(2)) / 1024);
                Matcher m = NMT_LINE.matcher(l);
                if (m.find()) out.put(m.group(1).strip().toLowerCase().replace(' ', '_'),
                        Long.parseLong(m.group(3)) / 1024);
            }
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
        }
        return out;
    }

    /** Its {@code /metrics} text ("" when it does not answer). */
    String metrics() {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    /** Lines of the GC log so far: a mark for {@link #gcPausesSince}. */
    int gcLogLines() {
        try {
            return Files.readAllLines(dir.resolve("gc.log")).size();
        } catch (IOException e) {
            return 0;
        }
    }

    /** GC pauses of serve: how many, how many were humongous, the longest and their sum (ms). */
    record GcPauses(int pauses, int humongous, double maxMs, double totalMs) {
        static final GcPauses NONE = new GcPauses(0, 0, 0, 0);

        /** These and {@code other} together: counts and totals added, the longest kept. */
        GcPauses plus(GcPauses other) {
            return new GcPauses(pauses + other.pauses, humongous + other.humongous, Math.max(maxMs, other.maxMs),
                    totalMs + other.totalMs);
        }

        Map<String, Object> json() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("pauses", pauses);
            out.put("humongous_pauses", humongous);
            out.put("max_pause_ms", Math.round(maxMs * 100) / 100.0);
            out.put("total_pause_ms", Math.round(totalMs * 100) / 100.0);
            return out;
        }
    }

    /** The GC pauses logged after line {@code mark}. */
    GcPauses gcPausesSince(int mark) {
        int count = 0;
        int humongous = 0;
        double max = 0;
        double total = 0;
        try {
            List<String> lines = Files.readAllLines(dir.resolve("gc.log"));
            for (String line : lines.subList(Math.min(mark, lines.size()), lines.size())) {
                Matcher m = GC_PAUSE.matcher(line);
                if (!m.find()) continue;
                double ms = Double.parseDouble(m.group(2));
                count++;
                total += ms;
                max = Math.max(max, ms);
                if (m.group(1).contains("Humongous")) humongous++;
            }
        } catch (IOException e) {
            // no log: no pauses known
        }
        return new GcPauses(count, humongous, max, total);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy(); // SIGTERM: serve drains and exits
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
