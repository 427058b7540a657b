package dev.tessera.gateway.edge;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Which web pages may open the WebSocket bridge, judged by the upgrade's {@code Origin} header (a browser always
 * sends it; other clients usually do not). With no origins listed, only the same origin is allowed: the
 * {@code Origin}'s host and port equal the request's {@code Host}, as for the page this server serves at
 * {@code /}. Listed origins ({@code https://app.example}, or {@code *} for any) are allowed besides. A request
 * without {@code Origin} is not a browser's and is allowed; the opaque origin {@code null} is refused unless listed.
 *
 * @param allowed exact origins ({@code scheme://host[:port]}), compared without case, or {@code *}
 */
public record OriginPolicy(List<String> allowed) {
    public OriginPolicy {
        allowed = allowed.stream().map(o -> o.trim().toLowerCase(Locale.ROOT)).filter(o -> !o.isEmpty()).toList();
        for (String o : allowed) {
            if (o.endsWith("/")) throw new IllegalArgumentException("an origin has no path: " + o);
        }
    }

    /** Same origin only. */
    public static OriginPolicy sameOrigin() {
        return new OriginPolicy(List.of());
    }

    /**
     * @param origin the {@code Origin} header, or null
     * @param host   the request's {@code Host} (or {@code :authority}), or null
     */
    public boolean allows(@Nullable String origin, @Nullable String host) {
        if (origin == null) return true;
        String o = origin.trim().toLowerCase(Locale.ROOT);
        if (allowed.contains("*") || allowed.contains(o)) return true;
        if (o.equals("null") || host == null) return false;
        try {
            URI uri = new URI(o);
            String authority = uri.getRawAuthority();
            return authority != null && uri.getRawPath() != null && uri.getRawPath().isEmpty()
                    && withoutDefaultPort(authority, uri.getScheme())
                            .equals(withoutDefaultPort(host.trim().toLowerCase(Locale.ROOT), uri.getScheme()));
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    private static String withoutDefaultPort(String authority, @Nullable String scheme) {
        String port = "https".equals(scheme) ? ":443" : "http".equals(scheme) ? ":80" : null;
        return port != null && authority.endsWith(port)
                ? authority.substring(0, authority.length() - port.length()) : authority;
    }
}
