package dev.tessera.bench;

import dev.tessera.loadtest.LoadSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The gateway workload as OpenAI API clients: {@code spec.clients()} threads, each streaming its requests back to
 * back from {@code POST /v1/completions} as server-sent events over HTTP/1.1 (one keep-alive connection per client,
 * as the openai Python client does), greedy, {@code ignore_eos}, with {@code stream_options.include_usage}; tokens
 * are the usage chunks' {@code completion_tokens}.
 */
final class SseLoad {
    private static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\":(\\d+)");

    /** What one run measured. */
    record Result(long requests, long errors, long tokens, double seconds, double ttftP50Ms, String firstError) {
        double tokensPerSecond() {
            return seconds > 0 ? tokens / seconds : 0;
        }
    }

    private SseLoad() {
    }

    static Result run(int port, String model, LoadSpec spec) {
        ExecutorService threads = Executors.newFixedThreadPool(spec.clients(), r -> {
            Thread t = new Thread(r, "sse-client");
            t.setDaemon(true);
            return t;
        });
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        AtomicLong tokens = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>("");
        List<Double> ttfts = Collections.synchronizedList(new ArrayList<>());
        URI uri = URI.create("http://127.0.0.1:" + port + "/v1/completions");
        long start = System.nanoTime();
        try {
            List<CompletableFuture<Void>> clients = new ArrayList<>();
            for (int c = 0; c < spec.clients(); c++) {
                int client = c;
                clients.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < spec.requestsPerClient(); i++) {
                        String body = "{\"model\":\"" + model + "\",\"prompt\":" + quote(spec.prompt(client, i))
                                + ",\"max_tokens\":" + spec.maxTokens() + ",\"temperature\":0,\"ignore_eos\":"
                                + spec.ignoreEos() + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
                        HttpRequest request = HttpRequest.newBuilder(uri).header("content-type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        long sent = System.nanoTime();
                        try {
                            HttpResponse<Stream<String>> r = http.send(request, HttpResponse.BodyHandlers.ofLines());
                            long[] got = read(r, sent, ttfts);
                            if (r.statusCode() != 200 || got[0] < 0) {
                                errors.incrementAndGet();
                                firstError.compareAndSet("", "HTTP " + r.statusCode());
                            } else {
                                tokens.addAndGet(got[0]);
                            }
                        } catch (Exception e) {
                            errors.incrementAndGet();
                            firstError.compareAndSet("", e.toString());
                        }
                    }
                }, threads));
            }
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).join();
        } finally {
            threads.shutdownNow();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        List<Double> sorted = new ArrayList<>(ttfts);
        Collections.sort(sorted);
        double p50 = sorted.isEmpty() ? 0 : sorted.get(sorted.size() / 2);
        return new Result((long) spec.clients() * spec.requestsPerClient(), errors.get(), tokens.get(), seconds, p50,
                firstError.get());
    }

    /** Reads one stream: returns {completion tokens, or -1 without a usage chunk}; records the time to first text. */
    private static long[] read(HttpResponse<Stream<String>> r, long sent, List<Double> ttfts) {
        long[] out = {-1};
        boolean[] first = {true};
        r.body().forEach(line -> {
            if (!line.startsWith("data: {")) return;
            if (first[0] && line.contains("\"text\":\"") && !line.contains("\"text\":\"\"")) {
                first[0] = false;
                ttfts.add((System.nanoTime() - sent) / 1e6);
            }
            Matcher m = COMPLETION_TOKENS.matcher(line);
            if (m.find()) out[0] = Long.parseLong(m.group(1));
        });
        return out;
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
