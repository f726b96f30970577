// Package webhook delivers signed webhooks to callback URLs that a guard has
// checked, so that a callback cannot reach the service's own network (SSRF).
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrForbidden is wrapped by every refusal of a callback URL or address.
var ErrForbidden = errors.New("callback not allowed")

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which callback URLs and addresses the service may call.
type Guard struct {
	// AllowInsecureLoopback lets callbacks use http, and loopback
	// addresses, for the local stack (ALLOW_INSECURE_CALLBACKS).
	AllowInsecureLoopback bool
	// Allowlist, when not empty, holds the host suffixes callbacks must end
	// with (CALLBACK_HOST_ALLOWLIST), such as "n8n.example.com".
	Allowlist []string
	// Resolver resolves hosts at check time. Default: net.DefaultResolver.
	Resolver Resolver
	// Own are the service's own listeners (the local stack's API and REST
	// endpoint). No callback may reach them: on their port, a loopback
	// address, or the address a listener is bound to, is refused.
	Own []netip.AddrPort
}

// blocked lists the ranges no callback may reach, beyond what netip's
// predicates (loopback, private, link-local, unspecified, multicast) cover.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT, and Alibaba's metadata 100.100.100.200
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64, which can reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4, which embeds any IPv4 address
}

// CheckAddr refuses an address in a private, loopback, link-local (cloud
// metadata, 169.254.169.254 and fd00:ec2::254 included), CGNAT, multicast,
// unspecified or reserved range. Loopback passes under
// AllowInsecureLoopback.
func (g *Guard) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		if g.AllowInsecureLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrForbidden, a)
	case a.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrForbidden, a)
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is link-local (cloud metadata lives there)", ErrForbidden, a)
	case a.IsUnspecified(), a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrForbidden, a)
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s is in the reserved range %s", ErrForbidden, a, p)
		}
	}
	return nil
}

// CheckURL refuses a callback URL unless it is https (http only for
// loopback hosts under AllowInsecureLoopback), has no credentials, names a
// host in canonical form on the allowlist, and every address the host
// resolves to passes CheckAddr. Delivery checks the address again as it
// connects, which defeats DNS rebinding.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return nil, fmt.Errorf("%w: it is not an absolute URL", ErrForbidden)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: it must not carry credentials", ErrForbidden)
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "_token") {
			return nil, fmt.Errorf("%w: it must not carry a _token parameter (a store credential)", ErrForbidden)
		}
	}
	host := strings.ToLower(u.Hostname())
	switch u.Scheme {
	case "https":
	case "http":
		if !g.AllowInsecureLoopback || !isLoopbackName(host) {
			return nil, fmt.Errorf("%w: it must use https", ErrForbidden)
		}
	default:
		return nil, fmt.Errorf("%w: it must use https", ErrForbidden)
	}
	if looksNumeric(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("%w: %q is not a canonical IP address", ErrForbidden, host)
		}
	}
	if !g.allowed(host) {
		return nil, fmt.Errorf("%w: %s is not on CALLBACK_HOST_ALLOWLIST", ErrForbidden, host)
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not resolve", ErrForbidden, host)
	}
	port, err := urlPort(u)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := g.checkAddrPort(a, port); err != nil {
			return nil, fmt.Errorf("%s resolves to a refused address: %w", host, err)
		}
	}
	return u, nil
}

// isInterfaceAddr reports whether a is one of this machine's addresses,
// which a listener bound to every address answers on.
func isInterfaceAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

// urlPort is the port a URL connects to.
func urlPort(u *url.URL) (uint16, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "http" {
			return 80, nil
		}
		return 443, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q is not a port", ErrForbidden, p)
	}
	return uint16(n), nil
}

// checkAddrPort is CheckAddr, and refuses the service's own listeners.
func (g *Guard) checkAddrPort(a netip.Addr, port uint16) error {
	if err := g.CheckAddr(a); err != nil {
		return err
	}
	a = a.Unmap()
	for _, own := range g.Own {
		if own.Port() != port {
			continue
		}
		bound := own.Addr().Unmap()
		if a.IsLoopback() || a == bound || (bound.IsUnspecified() && isInterfaceAddr(a)) {
			return fmt.Errorf("%w: %s is the service's own listener", ErrForbidden, netip.AddrPortFrom(a, port))
		}
	}
	return nil
}

func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	return addrs, err
}

func (g *Guard) allowed(host string) bool {
	if len(g.Allowlist) == 0 {
		return true
	}
	for _, suffix := range g.Allowlist {
		s := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(suffix), "."))
		if s != "" && (host == s || strings.HasSuffix(host, "."+s)) {
			return true
		}
	}
	return false
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// looksNumeric reports hosts made only of digits, dots, and hex forms:
// "2130706433", "0177.0.0.1", "0x7f.1": forms some resolvers read as IP
// addresses, which only canonical dotted quads may be here.
func looksNumeric(host string) bool {
	if strings.Contains(host, ":") {
		return true // IPv6 literal
	}
	if host == "" {
		return false
	}
	hexy := false
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= '0' && c <= '9', c == '.':
		case c == 'x' || (c >= 'a' && c <= 'f'):
			hexy = true
		default:
			return false
		}
	}
	first := host[0]
	return !hexy || (first == '0' && len(host) > 1 && host[1] == 'x')
}

// Control is a net.Dialer.Control that refuses connections to addresses the
// guard refuses: the check at the moment of connecting, after resolution.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read address %q", ErrForbidden, address)
	}
	return g.checkAddrPort(ap.Addr(), ap.Port())
}

// DialContext resolves the host with the guard's resolver, refuses the
// addresses CheckAddr refuses, and dials the first that answers. Resolving
// here, at connect time, and checking what is dialed (Control) means a name
// that changed its answer since CheckURL (DNS rebinding) is still refused.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not resolve", ErrForbidden, host)
	}
	d := &net.Dialer{Timeout: 2 * time.Second, Control: g.Control}
	var errs []error
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a port", ErrForbidden, port)
	}
	for _, a := range addrs {
		if err := g.checkAddrPort(a, uint16(p)); err != nil {
			errs = append(errs, err)
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
