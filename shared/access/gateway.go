package access

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Gateway finds clients in AWS, where API Gateway has checked the key: by
// the id of the key it accepted (the request context's
// identity.apiKeyId), from API_CLIENTS, which the CDK stack writes: JSON
// {"<key id>": {"name": "...", "scopes": [...]}}. The functions never see
// a key's value.
type Gateway struct {
	keyID   func(*http.Request) string
	clients map[string]Client
}

// ParseGateway reads API_CLIENTS; keyID reads a request's API key id.
func ParseGateway(clientsJSON string, keyID func(*http.Request) string) (*Gateway, error) {
	var byID map[string]Client
	dec := json.NewDecoder(strings.NewReader(clientsJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&byID); err != nil {
		return nil, fmt.Errorf(`API_CLIENTS: want JSON {"<API Gateway key id>": {"name": "...", "scopes": [...]}}: %w`, err)
	}
	for id, c := range byID {
		if !namePattern.MatchString(c.Name) {
			return nil, fmt.Errorf("API_CLIENTS[%s]: name %q must match %s", id, c.Name, namePattern)
		}
		scopes, err := checkScopes(c.Scopes)
		if err != nil {
			return nil, fmt.Errorf("API_CLIENTS[%s] (%s): %w", id, c.Name, err)
		}
		byID[id] = Client{Name: c.Name, Scopes: scopes}
	}
	return &Gateway{keyID: keyID, clients: byID}, nil
}

// Resolve finds the client of the key API Gateway accepted.
func (g *Gateway) Resolve(r *http.Request) (Client, bool) {
	if g.keyID == nil {
		return Client{}, false
	}
	id := g.keyID(r)
	c, ok := g.clients[id]
	return c, ok && id != ""
}
