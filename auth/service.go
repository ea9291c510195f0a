package auth

import (
	"context"
	"crypto/cipher"
	"errors"
	"io"
	"log/slog"
	"net/mail"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/personal"
)

// Languages a user may choose.
var Languages = []string{"sv", "en"}

// Config builds a Service.
type Config struct {
	// Store is the database: NewSQLiteStore or NewMongoStore.
	Store Store
	Keys  *KeySet
	Clock clock.Clock
	// Personal is the export/erase registry; the service registers its own
	// "account" hook in it. Register auth first so that its erasure (which
	// deletes the account) runs after every other package's.
	Personal *personal.Registry
	// Hash is the argon2id cost; zero means DefaultHashParams. Tests pass TestHashParams.
	Hash HashParams
	// HashConcurrency bounds hashes running at once (memory); zero means GOMAXPROCS.
	HashConcurrency int
	Logger          *slog.Logger
	// AuditRetention is how long audit entries are kept; zero means
	// DefaultAuditRetention. SweepAudit deletes older ones.
	AuditRetention time.Duration
}

// DefaultAuditRetention keeps a year of audit entries: long enough to
// answer a participant's "who read my record" for the past year.
const DefaultAuditRetention = 365 * 24 * time.Hour

// Service is the accounts, sign-in and organisations domain. It implements
// api.Authenticator.
type Service struct {
	store    Store
	clock    clock.Clock
	log      *slog.Logger
	hasher   *hasher
	tokens   *tokenCodec
	personal *personal.Registry
	throttle *throttle

	statusHooks statusHooks

	auditRetention time.Duration
	lastAuditSweep time.Time   // RunSweeper's goroutine only
	seal           cipher.AEAD // clientseal.go
}

// New checks cfg and registers the account export/erase hook.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("auth: Store and Keys are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Personal == nil {
		cfg.Personal = &personal.Registry{}
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	if cfg.HashConcurrency == 0 {
		cfg.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	h, err := newHasher(cfg.Hash, cfg.HashConcurrency)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, hasher: h,
		tokens:   newTokenCodec(cfg.Keys, cfg.Clock),
		personal: cfg.Personal, auditRetention: cfg.AuditRetention,
		seal: cfg.Keys.sealAEAD(),
	}
	s.throttle = newThrottle(cfg.Store, cfg.Clock)
	cfg.Personal.Register(personal.Hook{Name: "account", Export: s.exportAccount, Erase: s.eraseAccount})
	return s, nil
}

// Personal returns the export/erase registry the service runs for
// GET /v1/me/export and DELETE /v1/me; other packages register in it.
func (s *Service) Personal() *personal.Registry { return s.personal }

// User is an account as the domain sees it (never the password hash).
type User struct {
	ID        string
	Email     string
	Name      string
	Role      Role
	OrgID     string
	Status    Status
	Language  string
	CreatedAt time.Time
	// Vetting records who approved the account, when, and their note.
	Vetting *Vetting
	// Suspension records who suspended the account, when, and why.
	Suspension *Suspension
}

// Vetting is a coordinator's approval of a member.
type Vetting struct {
	By   string
	At   time.Time
	Note string
}

// Suspension is a coordinator's suspension of a member.
type Suspension struct {
	By     string
	At     time.Time
	Reason string
}

// Organisation is a social service or association with its members.
type Organisation struct {
	ID        string
	Name      string
	TimeZone  string
	CreatedAt time.Time
}

func newID() string { return ids.New() }

// NormalizeEmail is the form emails are stored and compared in.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// Field rules, shared by registration, coordinator creation and PATCH /v1/me.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
	MaxNameLen     = 100
	MaxEmailLen    = 254
	MaxNoteLen     = 1000
)

func checkEmail(email string) *fault.FieldError {
	if email == "" {
		return &fault.FieldError{Field: "email", Message: "is required"}
	}
	if len(email) > MaxEmailLen {
		return &fault.FieldError{Field: "email", Message: "must be at most 254 characters"}
	}
	if hiddenInEmail(email) {
		return &fault.FieldError{Field: "email", Message: "must not contain invisible or text-direction characters"}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return &fault.FieldError{Field: "email", Message: "must be an email address"}
	}
	return nil
}

func checkPassword(p string) *fault.FieldError {
	if utf8.RuneCountInString(p) < MinPasswordLen {
		return &fault.FieldError{Field: "password", Message: "must be at least 10 characters"}
	}
	if len(p) > MaxPasswordLen {
		return &fault.FieldError{Field: "password", Message: "must be at most 1024 bytes"}
	}
	if why := weakPassword(p); why != "" {
		return &fault.FieldError{Field: "password", Message: why}
	}
	return nil
}

func checkName(n string) *fault.FieldError {
	if n == "" {
		return &fault.FieldError{Field: "name", Message: "is required"}
	}
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen {
		return &fault.FieldError{Field: "name", Message: "must be at most 100 characters"}
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return &fault.FieldError{Field: "name", Message: "must not contain control characters"}
		}
	}
	if hiddenInName(n) {
		return &fault.FieldError{Field: "name", Message: "must not contain text-direction overrides"}
	}
	return nil
}

func checkLanguage(l string) *fault.FieldError {
	for _, ok := range Languages {
		if l == ok {
			return nil
		}
	}
	return &fault.FieldError{Field: "language", Message: "must be one of: sv, en"}
}

// ValidRole reports whether r is one of the four roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleParticipant, RoleVolunteer, RoleCoordinator, RoleAdmin:
		return true
	}
	return false
}

// ValidStatus reports whether st is one of the account statuses.
func ValidStatus(st Status) bool {
	switch st {
	case StatusPending, StatusActive, StatusSuspended:
		return true
	}
	return false
}

// NewUser is an account to create.
type NewUser struct {
	Email    string
	Password string
	Name     string
	Role     Role
	OrgID    string
	Language string
	Status   Status
}

// Registration is what POST /v1/auth/register sends.
type Registration struct {
	Email, Password, Name string
	Role                  Role
	OrgID                 string
	// InviteCode, when set, names the organisation (OrgID may be empty or
	// must match) and must allow Role.
	InviteCode string
	Language   string
	// Addr is the client's network address, for the per-address limit
	// (RegisterLimit per RegisterWindow); empty means unlimited (tools).
	Addr string
}

// Register creates a pending participant or volunteer. Every broken rule is
// a Validation fault naming its field; a taken email (any case) is a
// Conflict with slug "email-taken"; too many registrations from r.Addr are
// RateLimited. Nothing but the attempt's count is written unless it succeeds.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	if err := s.throttle.register(ctx, r.Addr); err != nil {
		return User{}, err
	}
	if r.Role != RoleParticipant && r.Role != RoleVolunteer {
		// Check the role first so that no org lookup happens for a refused role.
		return User{}, fault.InvalidField("role", "must be one of: participant, volunteer")
	}
	if r.InviteCode != "" {
		return s.registerWithInvite(ctx, r)
	}
	return s.CreateUser(ctx, NewUser{Email: r.Email, Password: r.Password, Name: r.Name, Role: r.Role,
		OrgID: r.OrgID, Language: r.Language, Status: StatusPending})
}

// CreateUser creates any account. It is the one path that writes a user:
// registration, coordinators, the bootstrap admin and tests use it.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, error) {
	d, err := s.prepareUser(ctx, n)
	if err != nil {
		return User{}, err
	}
	// The unique email decides, so two registrations racing for one
	// address cannot both succeed.
	if err := s.store.InsertUser(ctx, d); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return User{}, errEmailTaken()
		}
		return User{}, fault.Wrap(err, "insert user")
	}
	return d.User, nil
}

func errEmailTaken() error {
	return &fault.Error{Kind: fault.Conflict, Slug: "email-taken",
		Message: "an account with this email already exists",
		Fields:  []fault.FieldError{{Field: "email", Message: "is taken"}}}
}

// prepareUser checks n by every rule and hashes its password: the record
// to insert.
func (s *Service) prepareUser(ctx context.Context, n NewUser) (UserRecord, error) {
	n.Email = NormalizeEmail(n.Email)
	n.Name = strings.TrimSpace(n.Name)
	var fields []fault.FieldError
	add := func(fe *fault.FieldError) {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	add(checkEmail(n.Email))
	add(checkPassword(n.Password))
	add(checkName(n.Name))
	add(checkLanguage(n.Language))
	if !ValidRole(n.Role) {
		add(&fault.FieldError{Field: "role", Message: "must be one of: participant, volunteer, coordinator, admin"})
	}
	if !ValidStatus(n.Status) {
		return UserRecord{}, fault.Wrap(errors.New("bad status "+string(n.Status)), "create user")
	}
	switch {
	case n.Role == RoleAdmin:
		n.OrgID = ""
	case n.OrgID == "":
		add(&fault.FieldError{Field: "organisation_id", Message: "is required"})
	default:
		if _, err := s.Organisation(ctx, n.OrgID); err != nil {
			if fault.KindOf(err) != fault.NotFound {
				return UserRecord{}, err
			}
			add(&fault.FieldError{Field: "organisation_id", Message: "no such organisation"})
		}
	}
	if len(fields) > 0 {
		return UserRecord{}, fault.Invalid(fields...)
	}
	hash, err := s.hasher.hash(ctx, n.Password)
	if err != nil {
		return UserRecord{}, fault.Wrap(err, "hash password")
	}
	now := s.now()
	return UserRecord{User: User{ID: newID(), Email: n.Email, Name: n.Name, Role: n.Role, OrgID: n.OrgID,
		Status: n.Status, Language: n.Language, CreatedAt: now}, PasswordHash: hash, UpdatedAt: now}, nil
}

// EnsureAdmin creates an active admin with this email unless an account
// with the email exists. It reports whether it created one.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	_, err := s.CreateUser(ctx, NewUser{Email: email, Password: password, Name: "Administrator",
		Role: RoleAdmin, Language: "en", Status: StatusActive})
	if err == nil {
		return true, nil
	}
	if f, ok := fault.As(err); ok && f.Slug == "email-taken" {
		return false, nil
	}
	return false, err
}

// storeErr maps the store's errors to fault kinds; what names the
// operation and notFound is the message for ErrNotFound.
func storeErr(err error, what, notFound string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return fault.NotFoundf("%s", notFound)
	case errors.Is(err, ErrConflict):
		return fault.StateConflictf("the account changed meanwhile; reload and try again")
	}
	return fault.Wrap(err, what)
}

func (s *Service) userRecord(ctx context.Context, id string) (UserRecord, error) {
	u, err := s.store.User(ctx, id)
	return u, storeErr(err, "read user", "no such user")
}

// User returns one account.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	d, err := s.userRecord(ctx, id)
	return d.User, err
}

// Users returns the accounts with these ids (missing ones are left out);
// for notification fan-out and display names. At most 500 ids.
func (s *Service) Users(ctx context.Context, ids []string) (map[string]User, error) {
	if len(ids) > 500 {
		return nil, fault.Wrap(errors.New("too many ids"), "read users")
	}
	out := make(map[string]User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recs, err := s.store.UsersByID(ctx, ids)
	if err != nil {
		return nil, fault.Wrap(err, "read users")
	}
	for _, d := range recs {
		out[d.ID] = d.User
	}
	return out, nil
}

// ActiveCoordinatorsOf returns the active coordinators of an organisation
// (at most 100), for alerts that go to "the organisation's coordinators".
func (s *Service) ActiveCoordinatorsOf(ctx context.Context, orgID string) ([]User, error) {
	recs, err := s.store.Members(ctx, orgID, MemberQuery{Role: RoleCoordinator, Status: StatusActive, Limit: 100})
	if err != nil {
		return nil, fault.Wrap(err, "read coordinators")
	}
	out := make([]User, len(recs))
	for i, d := range recs {
		out[i] = d.User
	}
	return out, nil
}

// Authenticate verifies an access token and then the account's current
// standing with one read by _id, so a suspension or erasure takes effect on
// the very next request, on every replica, without waiting for the token to
// expire. Role and organisation come from that read, not from the token.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return Identity{}, fault.New(fault.Unauthenticated, "the access token is not valid")
	}
	d, err := s.store.User(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, fault.New(fault.Unauthenticated, "the account no longer exists")
	}
	if err != nil {
		return Identity{}, fault.Wrap(err, "read account status")
	}
	if d.Status == StatusSuspended {
		return Identity{}, fault.New(fault.Unauthenticated, "the account is suspended")
	}
	return Identity{UserID: c.UserID, Role: d.Role, OrgID: d.OrgID, Status: d.Status}, nil
}

// VerifyAccessToken checks a token's signature and claims only (no account
// read); Authenticate is what requests use.
func (s *Service) VerifyAccessToken(token string) (Claims, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return Claims{}, fault.New(fault.Unauthenticated, "the access token is not valid")
	}
	return c, nil
}

// IssueAccessToken mints an access token for an existing account without a
// password: for tests and tools in this process, never reachable over HTTP.
func (s *Service) IssueAccessToken(ctx context.Context, userID string) (string, error) {
	d, err := s.userRecord(ctx, userID)
	if err != nil {
		return "", err
	}
	tok, _, err := s.tokens.issue(d.ID, d.Role, d.OrgID)
	if err != nil {
		return "", fault.Wrap(err, "sign access token")
	}
	return tok, nil
}

// UpdateMe changes the caller's own name or language; nil leaves a field.
func (s *Service) UpdateMe(ctx context.Context, userID string, name, language *string) (User, error) {
	var fields []fault.FieldError
	if name != nil {
		n := strings.TrimSpace(*name)
		if fe := checkName(n); fe != nil {
			fields = append(fields, *fe)
		}
		name = &n
	}
	if language != nil {
		if fe := checkLanguage(*language); fe != nil {
			fields = append(fields, *fe)
		}
	}
	if len(fields) > 0 {
		return User{}, fault.Invalid(fields...)
	}
	d, err := s.store.UpdateNameLanguage(ctx, userID, name, language, s.now())
	return d.User, storeErr(err, "update user", "no such user")
}

// CreateOrganisation adds an organisation; timeZone must be an IANA name.
func (s *Service) CreateOrganisation(ctx context.Context, name, timeZone string) (Organisation, error) {
	name = strings.TrimSpace(name)
	var fields []fault.FieldError
	if fe := checkName(name); fe != nil {
		fields = append(fields, *fe)
	}
	if fe := checkTimeZone(timeZone); fe != nil {
		fields = append(fields, *fe)
	}
	if len(fields) > 0 {
		return Organisation{}, fault.Invalid(fields...)
	}
	o := Organisation{ID: newID(), Name: name, TimeZone: timeZone, CreatedAt: s.now()}
	if err := s.store.InsertOrganisation(ctx, o); err != nil {
		return Organisation{}, fault.Wrap(err, "insert organisation")
	}
	return o, nil
}

func checkTimeZone(tz string) *fault.FieldError {
	// "Local" and "" load the server's own zone, which is no IANA name.
	if tz == "" || tz == "Local" || len(tz) > 64 {
		return &fault.FieldError{Field: "time_zone", Message: "must be an IANA time zone such as Europe/Stockholm"}
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return &fault.FieldError{Field: "time_zone", Message: "must be an IANA time zone such as Europe/Stockholm"}
	}
	return nil
}

// Organisation returns one organisation.
func (s *Service) Organisation(ctx context.Context, id string) (Organisation, error) {
	o, err := s.store.Organisation(ctx, id)
	return o, storeErr(err, "read organisation", "no such organisation")
}

// CoordinatorInput is what an admin sends to create a coordinator.
type CoordinatorInput struct {
	Email, Password, Name, Language string
}

// CreateCoordinator adds an active coordinator to an existing organisation
// (an unknown organisation is a NotFound: it is in the path).
func (s *Service) CreateCoordinator(ctx context.Context, orgID string, in CoordinatorInput) (User, error) {
	if _, err := s.Organisation(ctx, orgID); err != nil {
		return User{}, err
	}
	return s.CreateUser(ctx, NewUser{Email: in.Email, Password: in.Password, Name: in.Name,
		Role: RoleCoordinator, OrgID: orgID, Language: in.Language, Status: StatusActive})
}

// now is the current time as stored: UTC, at the millisecond precision of
// BSON dates, so a fresh object and a re-read one print the same time.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }
