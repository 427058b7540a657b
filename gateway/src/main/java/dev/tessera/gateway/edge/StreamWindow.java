package dev.tessera.gateway.edge;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.impl.ConnectionBase;

/**
 * The HTTP/2 receive window of a request's stream. A stream starts with {@link #INITIAL}, HTTP/2's default, which
 * is all a client may send before the gateway has looked at the request; {@link #open} raises it to {@link #OPEN}
 * once the gateway will read the body: at once for most requests, after its first message's first bytes for a
 * {@code Generate} call, whose prompt may be refused from them. A refused 4 MB prompt then has at most
 * {@link #INITIAL} bytes on their way when its refusal reaches the client, instead of a whole open window.
 *
 * <p>Why not one window for every stream: with 64 KiB a client's 4 MB message crossed loopback in 32 KiB steps, each
 * waiting for a WINDOW_UPDATE from an event loop (a 4 MB Session message cost the server 16-23 ms of CPU, and took up
 * to 285 ms; with 1 MiB, 7-8 ms and at most 25 ms); with 1 MiB from the start, about 1 MB of each refused
 * {@code Generate} prompt was on its way before its refusal could stop the client.
 *
 * <p>Reaches into the connection's Netty HTTP/2 handler (Vert.x has no API for a stream's window). On the request's
 * event loop.
 */
public final class StreamWindow {
    /** A stream's receive window until it is opened: HTTP/2's default (RFC 9113, 6.9.2). */
    public static final int INITIAL = 65_535;
    /**
     * A stream's receive window once opened: grpc-java's default flow-control window. A paused reader holds at most
     * this much unread.
     */
    public static final int OPEN = 1 << 20;

    private StreamWindow() {
    }

    /**
     * Raises {@code request}'s stream window to {@link #OPEN}, sending the WINDOW_UPDATE with the event loop's next
     * flush. Nothing for an HTTP/1.x request, or a stream whose client has ended its side (sent all its body).
     */
    public static void open(HttpServerRequest request) {
        int id = request.streamId();
        HttpConnection connection = request.connection();
        if (id <= 0 || !(connection instanceof ConnectionBase base)) return;
        Channel channel = base.channel();
        Http2ConnectionHandler http2 = channel.pipeline().get(Http2ConnectionHandler.class);
        if (http2 == null) return;
        Http2Stream stream = http2.connection().stream(id);
        if (stream == null || !stream.state().remoteSideOpen()) return; // its client has sent all it will
        try {
            http2.decoder().flowController().incrementWindowSize(stream, OPEN - INITIAL);
        } catch (Http2Exception e) {
            return; // the stream is going away: it needs no window
        }
        // inside a read, the HTTP/2 handler flushes when the read completes; else this does, once
        channel.eventLoop().execute(channel::flush);
    }
}
