package dev.tessera.gateway.hostile;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.StreamResetException;
import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.GZIPOutputStream;

/**
 * Hand-made HTTP/2 (h2c, prior knowledge) requests for what a gRPC library will not send: any headers, any bytes,
 * gRPC frames built by hand ({@link #frame}), a stream left open after its message ({@link #callOpen}).
 */
final class RawH2 implements AutoCloseable {
    private final Vertx vertx = Vertx.vertx();
    private final int port;

    RawH2(int port) {
        this.port = port;
    }

    /** What came back: the HTTP status, headers, trailers and body, or the reset code if the stream was reset. */
    record Answer(int httpStatus, Map<String, String> headers, Map<String, String> trailers, Buffer body,
                  Long resetCode) {
        /** grpc-status from the trailers, or from the headers of a trailers-only answer; null if none. */
        Integer grpcStatus() {
            String s = trailers.getOrDefault("grpc-status", headers.get("grpc-status"));
            return s == null ? null : Integer.valueOf(s);
        }

        String grpcMessage() {
            String m = trailers.getOrDefault("grpc-message", headers.getOrDefault("grpc-message", ""));
            return URLDecoder.decode(m.replace("+", "%2B"), StandardCharsets.UTF_8);
        }

        String header(String name) {
            return trailers.getOrDefault(name, headers.get(name));
        }

        @Override
        public String toString() {
            return "Answer[http " + httpStatus + ", headers " + headers + ", trailers " + trailers + ", reset "
                    + resetCode + ", " + body.length() + " body bytes]";
        }
    }

    /** A gRPC frame: the compressed flag, the length, the payload. */
    static Buffer frame(boolean compressed, byte[] payload) {
        return Buffer.buffer().appendByte((byte) (compressed ? 1 : 0)).appendInt(payload.length)
                .appendBytes(payload);
    }

    static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** gRPC headers for {@code application/grpc}, plus {@code extra} (a null value removes a header). */
    static MultiMap grpcHeaders(String... extra) {
        MultiMap h = MultiMap.caseInsensitiveMultiMap().add("content-type", "application/grpc").add("te", "trailers");
        for (int i = 0; i < extra.length; i += 2) {
            if (extra[i + 1] == null) {
                h.remove(extra[i]);
            } else {
                h.set(extra[i], extra[i + 1]);
            }
        }
        return h;
    }

    /** POSTs {@code body} to {@code path} and ends the stream; waits for the whole answer. */
    Answer call(String path, MultiMap headers, Buffer body) throws Exception {
        return onItsOwnConnection(c -> open(c, path, headers).compose(req -> req.send(body)).compose(this::read));
    }

    /**
     * POSTs {@code pieces} to {@code path}, each written (and so sent as a DATA frame of its own) after the one
     * before it was written to the socket, then ends the stream; waits for the whole answer.
     */
    Answer callInPieces(String path, MultiMap headers, List<Buffer> pieces) throws Exception {
        return onItsOwnConnection(c -> open(c, path, headers).compose(req -> {
            req.setChunked(true);
            Future<Void> written = Future.succeededFuture();
            for (Buffer piece : pieces) written = written.compose(v -> req.write(piece));
            return written.compose(v -> req.end()).compose(v -> req.response());
        }).compose(this::read));
    }

    /**
     * What a call sent in pieces came to: its answer, the bytes of its pieces written out before its stream ended
     * (a piece counts once its every byte has been sent, which HTTP/2 flow control may hold back), and the code of
     * the reset that ended the stream after the answer, if one did.
     */
    record Sent(Answer answer, long bytesWritten, Long resetCode) {
    }

    /**
     * POSTs {@code pieces} to {@code path}, each after the one before was sent, then ends the stream; waits for the
     * answer and for the pieces to be sent or failed.
     */
    Sent callCountingWrites(String path, MultiMap headers, List<Buffer> pieces) throws Exception {
        AtomicLong written = new AtomicLong();
        AtomicReference<Long> reset = new AtomicReference<>();
        Answer answer = onItsOwnConnection(c -> open(c, path, headers).compose(req -> {
            req.setChunked(true);
            req.exceptionHandler(e -> {
                if (e instanceof StreamResetException r) reset.set(r.getCode());
            });
            Future<Void> sent = Future.succeededFuture();
            for (Buffer piece : pieces) {
                sent = sent.compose(v -> req.write(piece).onSuccess(w -> written.addAndGet(piece.length())));
            }
            Promise<Void> settled = Promise.promise();
            sent.compose(v -> req.end()).onComplete(ar -> settled.complete());
            Future<Answer> answered = req.response().compose(this::read);
            return Future.join(answered, settled.future()).map(all -> answered.result());
        }));
        return new Sent(answer, written.get(), reset.get());
    }

    /** Sends {@code body} to {@code path} but leaves the request stream open: the answer must come anyway. */
    Answer callOpen(String path, MultiMap headers, Buffer body) throws Exception {
        return onItsOwnConnection(c -> open(c, path, headers).compose(req -> {
            req.setChunked(true);
            req.write(body);
            return req.response();
        }).compose(this::read));
    }

    /** The SETTINGS the server sends on a new connection. */
    io.vertx.core.http.Http2Settings serverSettings() throws Exception {
        HttpClientAgent c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false));
        try {
            return c.connect(new io.vertx.core.http.HttpConnectOptions().setHost("127.0.0.1").setPort(port))
                    .map(conn -> conn.remoteSettings()).toCompletionStage().toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
        } finally {
            c.close();
        }
    }

    /**
     * Each hostile call gets a connection of its own: the server may end a connection after a broken frame
     * (GOAWAY), and a later call pooled onto it would hang instead of testing its own case.
     */
    private Answer onItsOwnConnection(java.util.function.Function<HttpClientAgent, Future<Answer>> call)
            throws Exception {
        HttpClientAgent c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false));
        try {
            return await(call.apply(c));
        } finally {
            c.close();
        }
    }

    private Future<HttpClientRequest> open(HttpClientAgent c, String path, MultiMap headers) {
        return c.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
                .setURI(path)).map(req -> {
                    req.headers().addAll(headers);
                    return req;
                });
    }

    private Future<Answer> read(io.vertx.core.http.HttpClientResponse resp) {
        return resp.body().map(body -> new Answer(resp.statusCode(), flat(resp.headers()), flat(resp.trailers()),
                body, null));
    }

    private static Answer await(Future<Answer> f) throws Exception {
        try {
            return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof StreamResetException reset) {
                return new Answer(0, Map.of(), Map.of(), Buffer.buffer(), reset.getCode());
            }
            throw e;
        }
    }

    private static Map<String, String> flat(MultiMap m) {
        Map<String, String> out = new TreeMap<>();
        m.forEach(e -> out.put(e.getKey().toLowerCase(), e.getValue()));
        return out;
    }

    @Override
    public void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
