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
// [{"key_id": "...", "name": "...", "scopes": [...]}], a client's two keys
// as two entries while one is rotated. The functions never see a key's
// value.
type Gateway struct {
	keyID   func(*http.Request) string
	clients map[string]Client
}

// GatewayClient is an entry of API_CLIENTS.
type GatewayClient struct {
	KeyID  string  `json:"key_id"`
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes"`
}

// ParseGateway reads API_CLIENTS; keyID reads a request's API key id.
func ParseGateway(clientsJSON string, keyID func(*http.Request) string) (*Gateway, error) {
	var list []GatewayClient
	dec := json.NewDecoder(strings.NewReader(clientsJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf(`API_CLIENTS: want JSON [{"key_id": "...", "name": "...", "scopes": [...]}]: %w`, err)
	}
	byID := map[string]Client{}
	for i, c := range list {
		if !namePattern.MatchString(c.Name) {
			return nil, fmt.Errorf("API_CLIENTS[%d]: name %q must match %s", i, c.Name, namePattern)
		}
		if c.KeyID == "" || byID[c.KeyID].Name != "" {
			return nil, fmt.Errorf("API_CLIENTS[%d] (%s): key_id is empty, or given twice", i, c.Name)
		}
		scopes, err := checkScopes(c.Scopes)
		if err != nil {
			return nil, fmt.Errorf("API_CLIENTS[%d] (%s): %w", i, c.Name, err)
		}
		byID[c.KeyID] = Client{Name: c.Name, Scopes: scopes}
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
