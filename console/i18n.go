package console

// tr is the text of key in lang (Swedish by default); a missing English
// text falls back to the Swedish one, a missing key shows itself so that
// tests catch it.
func tr(lang, key string) string {
	if lang == "en" {
		if s, ok := texts[key]; ok && s[1] != "" {
			return s[1]
		}
	}
	if s, ok := texts[key]; ok {
		return s[0]
	}
	return key
}

// texts: key → {Swedish, English}.
var texts = map[string][2]string{
	"skip":          {"Hoppa till innehållet", "Skip to content"},
	"nav.label":     {"Huvudmeny", "Main menu"},
	"nav.today":     {"Idag", "Today"},
	"nav.requests":  {"Förfrågningar", "Requests"},
	"nav.approvals": {"Godkännanden", "Approvals"},
	"nav.members":   {"Medlemmar", "Members"},
	"nav.groups":    {"Grupper", "Groups"},
	"nav.reports":   {"Rapporter", "Reports"},
	"lang.switch":   {"English", "Svenska"},
	"logout":        {"Logga ut", "Sign out"},
	"with":          {"med", "with"},

	"login.title":          {"Logga in på Clavis", "Sign in to Clavis"},
	"login.email":          {"E-post", "Email"},
	"login.password":       {"Lösenord", "Password"},
	"login.submit":         {"Logga in", "Sign in"},
	"login.wrong":          {"E-postadressen eller lösenordet stämmer inte.", "The email or the password is wrong."},
	"login.throttled":      {"För många försök. Vänta en stund och försök igen.", "Too many attempts. Please wait a while and try again."},
	"login.suspended":      {"Kontot är avstängt. Kontakta en administratör.", "This account is suspended. Please contact an administrator."},
	"login.notcoordinator": {"Konsolen är bara för samordnare och administratörer.", "The console is for coordinators and administrators only."},

	"admin.title": {"Administratör", "Administrator"},
	"admin.text": {"Konsolens sidor hör till en organisation och visas för dess samordnare. Som administratör skapar du organisationer och samordnare genom API:t; logga in som samordnare för att arbeta här.",
		"The console's pages belong to an organisation and are shown to its coordinators. As an administrator you create organisations and coordinators through the API; sign in as a coordinator to work here."},
	"err.title":      {"Något gick inte", "Something went wrong"},
	"err.back":       {"Tillbaka", "Back"},
	"err.notfound":   {"Det finns ingen sådan sida eller person.", "There is no such page or person."},
	"err.forbidden":  {"Du får inte göra det här.", "You may not do this."},
	"err.csrf":       {"Formuläret hade gått ut eller kom inte från den här sidan. Ladda om sidan och försök igen.", "The form had expired or did not come from this page. Reload the page and try again."},
	"err.conflict":   {"Någon annan hann före: det här har redan ändrats. Ladda om sidan för att se hur det ser ut nu.", "Someone else got there first: this has already changed. Reload the page to see how it stands now."},
	"err.validation": {"Något i formuläret saknas eller är för långt.", "Something in the form is missing or too long."},
	"err.internal":   {"Ett fel uppstod hos oss. Försök igen om en stund.", "An error occurred on our side. Please try again shortly."},

	"done.approved":  {"Matchningen är godkänd.", "The match is approved."},
	"done.rejected":  {"Matchningen är avvisad; förfrågan är öppen igen.", "The match is rejected; the request is open again."},
	"done.vetted":    {"Volontären är godkänd.", "The volunteer is approved."},
	"done.suspended": {"Kontot är avstängt.", "The account is suspended."},
	"done.support":   {"Stödbehoven är sparade.", "The support needs are saved."},

	"today.title":      {"Utflykter idag och imorgon", "Outings today and tomorrow"},
	"today.missed":     {"Missad incheckning", "Missed check-in"},
	"today.missedword": {"MISSAD INCHECKNING", "MISSED CHECK-IN"},
	"today.none":       {"Inga utflykter.", "No outings."},
	"today.today":      {"Idag", "Today"},
	"today.tomorrow":   {"Imorgon", "Tomorrow"},

	"requests.title":       {"Öppna förfrågningar, närmast först", "Open requests, soonest first"},
	"requests.caption":     {"Öppna förfrågningar", "Open requests"},
	"requests.none":        {"Inga öppna förfrågningar.", "No open requests."},
	"requests.candidates":  {"Visa kandidater", "Show candidates"},
	"request.title":        {"Förfrågan", "Request"},
	"request.meeting":      {"Mötesplats", "Meeting point"},
	"request.note":         {"Anteckning", "Note"},
	"request.candidates":   {"Kandidater, bäst först", "Candidates, best first"},
	"request.nocandidates": {"Ingen volontär uppfyller reglerna just nu.", "No volunteer passes the rules right now."},
	"request.score":        {"poäng", "score"},
	"request.parts":        {"Poängens delar för", "Score parts for"},
	"request.excluded":     {"Inte kandidater", "Not candidates"},

	"part.distance":   {"Avstånd", "Distance"},
	"part.continuity": {"Kontinuitet", "Continuity"},
	"part.slack":      {"Marginal i schemat", "Slack in the schedule"},
	"part.fairness":   {"Rättvis fördelning", "Fair share"},
	"part.feedback":   {"Återkoppling", "Feedback"},
	"part.skills":     {"Färdigheter", "Skills"},

	"col.starts":      {"Börjar", "Starts"},
	"col.when":        {"När", "When"},
	"col.participant": {"Deltagare", "Participant"},
	"col.kind":        {"Slag", "Kind"},
	"col.open":        {"Öppna", "Open"},
	"col.volunteer":   {"Volontär", "Volunteer"},
	"col.rule":        {"Första regeln som inte uppfylls", "First rule not met"},
	"col.name":        {"Namn", "Name"},

	"approvals.title":    {"Matchningar som väntar på godkännande", "Matches awaiting approval"},
	"approvals.more":     {"Fler väntar; här visas de tio som börjar först.", "More are waiting; these are the ten that start first."},
	"approvals.none":     {"Inget väntar på godkännande.", "Nothing awaits approval."},
	"approvals.together": {"Tidigare tillsammans", "Earlier together"},
	"approvals.first":    {"De har inte träffats förut.", "They have not met before."},
	"approvals.history":  {"Historik", "History"},
	"approvals.approve":  {"Godkänn", "Approve"},
	"approvals.reject":   {"Avvisa", "Reject"},
	"approvals.reason":   {"Skäl att avvisa", "Reason to reject"},
	"approvals.rating":   {"betyg %d av 5", "rated %d of 5"},

	"members.next":         {"Nästa sida", "Next page"},
	"members.title":        {"Medlemmar", "Members"},
	"members.pending":      {"Volontärer som väntar på granskning", "Volunteers awaiting vetting"},
	"members.nopending":    {"Ingen väntar.", "Nobody is waiting."},
	"members.since":        {"registrerad", "registered"},
	"members.note":         {"Anteckning om granskningen", "Vetting note"},
	"members.vet":          {"Godkänn volontären", "Approve the volunteer"},
	"members.active":       {"Aktiva volontärer", "Active volunteers"},
	"members.vetting":      {"Granskad", "Vetted"},
	"members.suspend":      {"Stäng av", "Suspend"},
	"members.reason":       {"Skäl", "Reason"},
	"members.suspended":    {"Avstängda volontärer", "Suspended volunteers"},
	"members.participants": {"Deltagare", "Participants"},
	"members.supporthint":  {"Stödbehov (bara för samordnare) skrivs på deltagarens sida.", "Support needs (coordinators only) are written on the participant's page."},

	"person.week":         {"Tillgänglig varje vecka", "Weekly availability"},
	"person.load":         {"%d utflykter denna vecka av högst %d", "%d outings this week of at most %d"},
	"person.loadonly":     {"%d utflykter denna vecka", "%d outings this week"},
	"person.radius":       {"reser upp till %s km", "travels up to %s km"},
	"person.feedback":     {"Återkoppling från deltagare", "Feedback from participants"},
	"person.nofeedback":   {"Ingen återkoppling än.", "No feedback yet."},
	"person.comfort":      {"Trygghet före och efter (1–5)", "Comfort before and after (1–5)"},
	"person.comfortdesc":  {"Diagram: trygghet före och efter varje utflykt, äldst till vänster", "Chart: comfort before and after each outing, oldest on the left"},
	"person.before":       {"Före", "Before"},
	"person.after":        {"Efter", "After"},
	"person.nocomfort":    {"Inga svar om trygghet än.", "No comfort answers yet."},
	"person.support":      {"Stödbehov", "Support needs"},
	"person.supportlabel": {"Stödbehov (syns bara för samordnare)", "Support needs (coordinators only)"},
	"person.save":         {"Spara", "Save"},
	"person.outings":      {"Utflykter", "Outings"},
	"person.nooutings":    {"Inga utflykter.", "No outings."},

	"groups.none":         {"Inga grupper.", "No groups."},
	"groups.sessions":     {"Träffar", "Sessions"},
	"groups.nosessions":   {"Inga träffar.", "No sessions."},
	"groups.register":     {"Närvaro", "Attendance"},
	"groups.mark":         {"Närvaro", "Attendance"},
	"groups.mark.present": {"Närvarande", "Present"},
	"groups.mark.absent":  {"Frånvarande", "Absent"},
	"groups.mark.excused": {"Anmäld frånvaro", "Excused"},
	"reports.from":        {"Från", "From"},
	"reports.to":          {"Till", "To"},
	"reports.show":        {"Visa", "Show"},
	"reports.csv":         {"Ladda ner CSV", "Download CSV"},
	"reports.measure":     {"Mått", "Measure"},
	"reports.goal":        {"Mål", "Goal"},
	"reports.actual":      {"Utfall", "Actual"},

	"status.open":             {"Öppen", "Open"},
	"status.pending_approval": {"Väntar på godkännande", "Awaiting approval"},
	"status.confirmed":        {"Bekräftad", "Confirmed"},
	"status.in_progress":      {"Pågår", "In progress"},
	"status.completed":        {"Genomförd", "Completed"},
	"status.cancelled":        {"Inställd", "Cancelled"},
	"status.expired":          {"Förfallen", "Expired"},

	"kind.bus_trip": {"Bussresa", "Bus trip"},
	"kind.cafe":     {"Kafé", "Café"},
	"kind.walk":     {"Promenad", "Walk"},
	"kind.errand":   {"Ärende", "Errand"},
	"kind.activity": {"Aktivitet", "Activity"},
	"kind.other":    {"Annat", "Other"},

	"role.participant": {"deltagare", "participant"},
	"role.volunteer":   {"volontär", "volunteer"},
	"role.coordinator": {"samordnare", "coordinator"},
	"role.admin":       {"administratör", "administrator"},

	"wd.mon": {"mån", "Mon"}, "wd.tue": {"tis", "Tue"}, "wd.wed": {"ons", "Wed"}, "wd.thu": {"tor", "Thu"},
	"wd.fri": {"fre", "Fri"}, "wd.sat": {"lör", "Sat"}, "wd.sun": {"sön", "Sun"},

	"unit.days": {"dagar", "days"},
	"unit.in":   {"om %s", "in %s"},
	"unit.ago":  {"för %s sedan", "%s ago"},
}
