package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// JWTIssuer is the iss of every callback's JWT.
const JWTIssuer = "ai-rails-state-service"

// JWTTTL is how long a callback's JWT is good for: long enough for a
// receiver's clock to differ a little, short enough that a captured one is
// soon worthless. Each attempt mints its own.
const JWTTTL = 5 * time.Minute

// MintJWT returns a compact HS256 JWT for a delivery: iss, sub (the
// approval id), event, jti (the delivery id), iat and exp (now + JWTTTL).
// n8n's Wait node checks it with a JWT Auth credential (passphrase, HS256).
func MintJWT(secret []byte, d Delivery, now time.Time) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": JWTIssuer, "sub": d.Subject, "event": d.Event, "jti": d.ID,
		"iat": now.Unix(), "exp": now.Add(JWTTTL).Unix(),
	})
	signing := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
