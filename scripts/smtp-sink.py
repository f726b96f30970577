# A local SMTP server that writes each message's body to a file, one per
# message, for the n8n end-to-end run of the approval links flow.
import asyncore, smtpd, sys, os, itertools
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
n = itertools.count()
class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        with open(os.path.join(out, "%03d.eml" % next(n)), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
